"""How fast a method trains here, and what the harness costs over a bare loop
(`python -m bench speed`; issue 6).

Everything runs in ONE process, from one model initialisation, on one training set, and
the things compared alternate step by step, so a machine whose load changes while it
measures slows both sides of every ratio alike:

* ``bare``: a hand-written PyTorch loop over batches of uint8 crops already on the device
  (cut once, beforehand, by the harness): conversion to float there (as every loop over
  the uint8 cache does), forward under the same autocast, the config's loss, zero_grad,
  backward, Adam step, ``loss.item()``;
* ``erm``: ``Engine.step`` on ERM batches of ``train.batch_size``, its data pipeline
  included (crops cut from the bank, moved, converted); ``erm_precut``: ``Engine.step``
  fed the bare loop's pre-cut crops (its machinery without the cutting). The three
  alternate step by step, in rotating order; ``harness_over_bare`` is the ratio of their
  median step times, bare / ERM: ERM images/s over bare images/s (>= 0.95 wanted);
  ``harness_step_over_bare`` the same for the pre-cut engine;
* ``method``: the method's own training step, through the hooks the engine's loop calls
  (``setup`` once, then ``update``: a meta-iteration for CIS, CIP and MetaIQA, a step
  for ERM; any plug-in alike). Each of its inner ``Engine.step`` calls is followed (through
  the engine's ``step_observers``) by an ERM step of the same batch size on another engine
  (``erm_matched``), timed apart and taken
  out of the method's time; ``method_over_erm`` is the median over repeats of method time
  / matched ERM time: a meta-iteration against the same number of ERM steps on the same
  batch sizes (<= 1.10 wanted). ``method_over_erm_per_image`` compares the method's time
  per image with ERM's at its own batch size;
* ``data``: the engine's batch pipeline alone (``Engine.batch``: cut, move, to float);
  ``host_crops``: uint8 crops cut by ``ImageBank.random_crops`` on the host.

The training set is a LODO fold of the synthetic KADID-style set when the suite is
already generated (or real data when ``--data-root`` is given), else random uint8 images
with random labels shaped like one (bench/app/speed_data.py): the report says which.
"""
from __future__ import annotations

import copy
import math
import os
import resource
import statistics
import time
from typing import Callable, Optional

import numpy as np

from .speed_data import SpeedData, speed_data

TARGETS = {"harness_over_bare": (">=", 0.95), "method_over_erm": ("<=", 1.10)}


# --------------------------------------------------------------------------- the loops
def sync(device) -> None:
    """Wait for queued device work so wall-clock times are honest."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareLoop:
    """The reference loop, written as a user would: batches of uint8 crops already on the
    device converted to float there (one kernel into a buffer kept from step to step), the
    same model (same memory format, autocast and torch.compile as the engine), Adam with
    the config's settings (fused on CUDA when the engine's is), the config's loss,
    ``loss.item()`` every step."""

    def __init__(self, model, cfg: dict, engine):
        import torch

        from ..engine.engine import LOSSES

        self.device = engine.device
        self.model = model.to(self.device).train()
        if engine.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.fwd = torch.compile(self.model) if engine.compiled else self.model
        t = cfg["train"]
        impl = {"fused": True} if engine.fused else {"foreach": True}
        self.opt = torch.optim.Adam(self.model.parameters(), lr=t["lr"], betas=tuple(t["betas"]),
                                    weight_decay=t["weight_decay"], **impl)
        self.loss = LOSSES[t["loss"]]
        self.amp = engine.amp_dtype
        self.fmt = torch.channels_last if engine.channels_last else torch.contiguous_format
        self.buf = None

    def step(self, crops, y) -> float:
        """One step on ``crops`` (B x H x W x 3 uint8 on the device) and targets ``y``."""
        import torch

        b, h, w, c = crops.shape
        if self.buf is None or self.buf.shape[0] < b:
            self.buf = torch.empty((b, c, h, w), device=self.device, memory_format=self.fmt)
        x = torch.div(crops.permute(0, 3, 1, 2), 255.0, out=self.buf[:b])
        with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
            pred = self.fwd(x)
        loss = self.loss(pred.float(), y).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


def precut_engine(cfg: dict, model, device, rng, pre: list):
    """An Engine whose batch for positions ``pos`` is pre-cut batch ``pos[0] % len(pre)``
    (uint8 crops on the device, converted to float there): its step without the cutting."""
    from ..engine.engine import Engine

    class PreCutEngine(Engine):
        def batch(self, ts, pos):
            crops, y = pre[int(pos[0]) % len(pre)]
            return self.to_float(crops), y

    return PreCutEngine(cfg, model, device, rng)


class MethodBlock:
    """Runs the method's training step through its hooks (``setup`` once, then ``update``)
    and records the batch size of every ``Engine.step`` it makes (an engine step
    observer). With a ``shadow`` set, every such step is followed by ``shadow(batch_size)``
    (an ERM step of that size, timed by the caller): the method and its matched ERM steps
    then alternate step by step, so both see the same machine."""

    def __init__(self, method_cls, cfg: dict, engine, data: SpeedData,
                 log: Callable[[str], None] = print):
        from ..engine.loop import FitContext

        self.sizes: list[int] = []
        self.shadow: Optional[Callable[[int], None]] = None
        engine.step_observers.append(self._observe)
        self.method = method_cls(cfg)
        self.ctx = FitContext(engine, data.train, cfg, lambda e, loss: None, log=log)
        self.method.setup(self.ctx)
        self.unit = "update"
        self.n_subsets = self.method.describe().get("subsets") or None

    def _observe(self, batch_size: int) -> None:
        self.sizes.append(batch_size)
        if self.shadow is not None:
            self.shadow(batch_size)

    def run(self, n_iter: int) -> int:
        """``n_iter`` updates; returns the number of inner steps they took."""
        before = len(self.sizes)
        for _ in range(n_iter):
            self.method.update(self.ctx)
        return len(self.sizes) - before


class Rig:
    """The engines, batches and samplers one measurement times, all from one model
    initialisation: ``bare`` (the reference loop), ``erm`` (Engine.step with its data
    pipeline), ``precut`` (Engine.step fed the bare loop's crops), the method's block and
    the ``matched`` engine whose ERM steps shadow the method's inner steps."""

    def __init__(self, cfg: dict, sd: SpeedData, device, log: Callable[[str], None]):
        import torch

        from ..core.registry import METHODS
        from ..engine.engine import Engine
        from ..engine.method import build_network
        from ..engine.samplers import BatchSampler

        method_cls = METHODS.get(cfg["method"])
        self.cfg, self.ts, self.device = cfg, sd.train, device
        seed, ts, lr = cfg["seed"], sd.train, cfg["train"]["lr"]
        torch.manual_seed(seed)
        # the method's own network (a deep baseline's), which its ERM-step reference also runs
        base, _ = build_network(method_cls, cfg, lambda m: None)
        fresh = lambda: copy.deepcopy(base)  # noqa: E731 - every loop starts from one init
        self.bs = min(int(cfg["train"]["batch_size"]), len(ts))
        self.crop = cfg["data"]["crop"]
        self.erm = Engine(cfg, fresh(), device, np.random.default_rng([seed, 1]))
        self.erm_opt = self.erm.adam(self.erm.model.parameters(), lr)
        self.erm_sampler = BatchSampler(np.arange(len(ts)), self.bs, self.erm.rng)
        meth_engine = Engine(cfg, fresh(), device, np.random.default_rng([seed, 2]))
        self.block = MethodBlock(method_cls, cfg, meth_engine, sd, log)
        self.bare = BareLoop(fresh(), cfg, self.erm)
        # the same batches for both: uint8 crops cut once by the harness, on the device
        rng, self.pre = np.random.default_rng(seed), []
        for _ in range(4):
            p = rng.choice(len(ts), self.bs, replace=False)
            self.pre.append((self.erm.crops(ts.bank, ts.index[p]),
                             torch.from_numpy(ts.mos[p]).to(device)))
        # the harness's step fed those pre-cut crops: its machinery without the cutting
        self.precut = precut_engine(cfg, fresh(), device, np.random.default_rng([seed, 6]), self.pre)
        self.precut_opt = self.precut.adam(self.precut.model.parameters(), lr)
        self.matched = Engine(cfg, fresh(), device, np.random.default_rng([seed, 3]))
        self.matched_opt = self.matched.adam(self.matched.model.parameters(), lr)
        self.matched_samplers: dict = {}
        self.data_sampler = BatchSampler(np.arange(len(ts)), self.bs, np.random.default_rng([seed, 4]))
        self.host_rng = np.random.default_rng([seed, 5])
        self.host_out = np.empty((self.bs, self.crop, self.crop, 3), dtype=np.uint8)
        self.shadow_time = 0.0

    def clock(self) -> float:
        sync(self.device)
        return time.perf_counter()

    def bare_step(self, k: int) -> float:
        t0 = self.clock()
        self.bare.step(*self.pre[k % len(self.pre)])
        return self.clock() - t0

    def erm_step(self, k: int) -> float:
        t0 = self.clock()
        self.erm.step(self.erm_opt, self.ts, self.erm_sampler.next())
        return self.clock() - t0

    def precut_step(self, k: int) -> float:
        t0 = self.clock()
        self.precut.step(self.precut_opt, self.ts, np.full(self.bs, k % len(self.pre)))
        return self.clock() - t0

    def shadow(self, b: int) -> None:
        """An ERM step of batch ``b`` on the matched engine, timed apart."""
        from ..engine.samplers import BatchSampler

        if b not in self.matched_samplers:
            self.matched_samplers[b] = BatchSampler(np.arange(len(self.ts)), b, self.matched.rng)
        t0 = self.clock()
        self.matched.step(self.matched_opt, self.ts, self.matched_samplers[b].next())
        self.shadow_time += self.clock() - t0

    def method_block(self, n_iter: int) -> tuple[float, float, int, int]:
        """(method seconds, matched ERM seconds, inner steps, images)."""
        start = len(self.block.sizes)
        self.shadow_time = 0.0
        self.block.shadow = self.shadow
        t0 = self.clock()
        self.block.run(n_iter)
        total = self.clock() - t0
        self.block.shadow = None
        got = self.block.sizes[start:]
        return total - self.shadow_time, self.shadow_time, len(got), int(sum(got))

    def data_block(self, steps: int) -> float:
        t0 = self.clock()
        for _ in range(steps):
            self.erm.batch(self.ts, self.data_sampler.next())
        return self.clock() - t0

    def host_block(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            idx = self.ts.index[self.host_rng.integers(0, len(self.ts), self.bs)]
            self.ts.bank.random_crops(idx, self.crop, self.host_rng, self.cfg["data"]["flip"],
                                      out=self.host_out)
        return time.perf_counter() - t0

    def block_size(self, steps: int) -> int:
        """Iterations of one method block: enough for ``steps`` inner steps or as many
        images as ``steps`` ERM steps, whichever comes first (a CIP step holds every
        subset's batch); the iteration run to find out warms the method up."""
        first = len(self.block.sizes)
        per_iter = max(1, self.block.run(1))
        per_iter_images = max(1, sum(self.block.sizes[first:]))
        return max(1, min(math.ceil(steps / per_iter), math.ceil(steps * self.bs / per_iter_images)))


def measure(cfg: dict, steps: int = 20, repeats: int = 7, data: str = "auto",
            dataset: str = "syn-kadid", log: Callable[[str], None] = print,
            read_steps: int = 50) -> dict:
    """Measure ``cfg['method']`` under ``cfg`` (a resolved config with ``method``) and
    return the report as a dict (see the module docstring for the blocks).

    Comparisons are interleaved step by step: bare, ERM and pre-cut ERM steps take turns
    (in rotating order) and harness/bare is the ratio of their median step times; the
    method's inner steps are each followed by an ERM step of the same batch size, and
    method/ERM is the median over repeats of (method block time less its ERM steps) /
    (those ERM steps). The data blocks are timed between them. Afterwards, untimed, host
    reads are counted over ``read_steps`` ERM steps and method steps (bench/app/speed_reads.py;
    0: not counted)."""
    import torch

    from ..engine.device import resolve_device

    device = resolve_device(cfg["device"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sd = speed_data(cfg, data, dataset, log)
    rig = Rig(cfg, sd, device, log)
    # warm-up (allocator, optimizer state, compilation)
    n_iter = rig.block_size(steps)
    trio = (rig.bare_step, rig.erm_step, rig.precut_step)
    for k in range(2):
        for fn in trio:
            fn(k)
    rig.method_block(n_iter)
    rig.data_block(steps), rig.host_block(steps)

    times: dict[str, list] = {k: [] for k in ("bare", "erm", "precut", "method", "matched",
                                              "ratio", "data", "host")}
    n_steps = n_images = 0
    for r in range(repeats):
        for k in range(steps):
            for j in range(3):  # every order of the three in turn
                fn = trio[(r * steps + k + j) % 3]
                times[("bare", "erm", "precut")[trio.index(fn)]].append(fn(k))
        tm, tx, n_steps, n_images = rig.method_block(n_iter)
        times["method"].append(tm)
        times["matched"].append(tx)
        times["ratio"].append(tm / tx)
        times["data"].append(rig.data_block(steps))
        times["host"].append(rig.host_block(steps))
    result = _report(cfg, rig, sd, times, steps, repeats, n_iter, n_steps, n_images)
    if read_steps:
        from .speed_reads import count_reads

        result["host_reads"] = count_reads(rig, int(read_steps))
    return result


def _report(cfg: dict, rig: Rig, sd: SpeedData, times: dict, steps: int, repeats: int,
            n_iter: int, n_steps: int, n_images: int) -> dict:
    """The report of :func:`measure` from the medians of its timings."""
    import torch

    med = {k: statistics.median(v) for k, v in times.items()}
    bs, device, block = rig.bs, rig.device, rig.block
    result = {
        "method": cfg["method"], "profile": cfg["profile"], "backbone": cfg["model"]["backbone"],
        "crop": rig.crop, "device": str(device), "device_name": device_name(device),
        "torch_threads": torch.get_num_threads(), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "engine": {**rig.erm.describe(), "placement": rig.erm.placement_of(rig.ts.bank)},
        "data": sd.kind, "data_description": sd.description, "n_train": len(rig.ts),
        "n_subsets": block.n_subsets,
        "batch_size": bs, "method_batches": {"unit": block.unit, "iterations_per_block": n_iter,
                                             "steps_per_block": n_steps,
                                             "images_per_block": n_images,
                                             "batch_sizes": sorted(set(block.sizes))},
        "steps": steps, "repeats": repeats,
        "bare_img_s": bs / med["bare"], "erm_img_s": bs / med["erm"],
        "method_img_s": n_images / med["method"], "erm_precut_img_s": bs / med["precut"],
        "erm_matched_img_s": n_images / med["matched"],
        "data_crops_s": steps * bs / med["data"], "host_crops_s": steps * bs / med["host"],
        "ms_per_step": {"bare": 1e3 * med["bare"], "erm": 1e3 * med["erm"],
                        "method": 1e3 * med["method"] / max(1, n_steps),
                        "erm_matched": 1e3 * med["matched"] / max(1, n_steps)},
        "harness_over_bare": med["bare"] / med["erm"],
        "harness_step_over_bare": med["bare"] / med["precut"],
        "method_over_erm": med["ratio"],
        "method_over_erm_per_image": (med["method"] / n_images) / (med["erm"] / bs),
        "targets": {k: f"{op} {v}" for k, (op, v) in TARGETS.items()},
        "peak_host_mb": round(peak_host_mb(), 1),
    }
    if device.type == "cuda":
        result["peak_device_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    result["meets_targets"] = {k: (result[k] >= v if op == ">=" else result[k] <= v)
                               for k, (op, v) in TARGETS.items()}
    return result


def peak_host_mb() -> float:
    """Peak resident set size of this process, MB (getrusage: kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if os.uname().sysname == "Darwin" else peak / 2**10


def device_name(device) -> str:
    """'NVIDIA H100 80GB HBM3' for a GPU, the CPU model (and core count) otherwise."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model or 'CPU'} ({os.cpu_count()} cores)"
