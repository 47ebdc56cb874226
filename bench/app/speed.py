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
with random labels and the same shape of subsets (24 types x 5 levels x 12 references,
2 content clusters): the report says which.
"""
from __future__ import annotations

import copy
import math
import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

TARGETS = {"harness_over_bare": (">=", 0.95), "method_over_erm": ("<=", 1.10)}
STANDIN_SHAPE = {"types": 24, "levels": 5, "refs": 12}


@dataclass
class SpeedData:
    """A training set for the measurement and where it came from."""

    train: object                     # bench.engine.engine.TrainSet
    kind: str                         # 'suite' | 'real' | 'random'
    description: str
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- data
def standin_data(cfg: dict, types: int = STANDIN_SHAPE["types"], levels: int = STANDIN_SHAPE["levels"],
                 refs: int = STANDIN_SHAPE["refs"], seed: int = 0,
                 why: str = "asked for") -> SpeedData:
    """Random uint8 images (data.size px) with random labels, shaped like a LODO fold of
    the KADID-style set: ``types`` x ``levels`` x ``refs`` images (a method dividing it
    by content clusters the first image of each reference)."""
    from ..data.bank import ImageBank
    from ..engine.engine import TrainSet

    rng = np.random.default_rng(seed)
    size = cfg["data"]["size"]
    n = types * levels * refs
    arr = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    type_of = [f"T{k % types:02d}" for k in range(n)]
    level_of = [1 + (k // types) % levels for k in range(n)]
    ref_of = [("standin", f"R{k // (types * levels):02d}") for k in range(n)]
    ts = TrainSet(ImageBank([arr]), np.arange(n, dtype=np.int64), rng.random(n).astype(np.float32),
                  ["standin"] * n, type_of, level_of, ref_of)
    return SpeedData(ts, "random",
                     f"random uint8 stand-in ({types} types x {levels} levels x {refs} refs = {n} "
                     f"images at {size} px, random labels; {why})")


def suite_cached(seed: int = 0) -> bool:
    """True when the synthetic suite of ``seed`` is already generated (no generation)."""
    from ..data.synthetic.suite import read_manifest

    return read_manifest(seed) is not None


def fold_data(cfg: dict, dataset: str, log: Callable[[str], None]) -> SpeedData:
    """The first LODO fold of ``dataset`` through the runner (records, decoded cache,
    training set with the method's extra sets)."""
    from ..core.registry import PROTOCOLS
    from ..engine.session import prepare, train_set_from, with_extra

    real = bool(cfg["data"]["root"]) or bool(cfg["data"]["paths"])
    c = copy.deepcopy(cfg)
    c["protocol"] = {"name": "lodo", **PROTOCOLS.get("lodo").defaults(real), "dataset": dataset}
    session = prepare(c, log)
    fold = session.folds[0]
    ts = train_set_from(session, with_extra(session, fold.method_parts()))
    return SpeedData(ts, "real" if real else "suite",
                     f"{dataset} LODO fold '{fold.name}' ({len(ts)} training images at "
                     f"{cfg['data']['size']} px{', with ' + '+'.join(session.extra) if session.extra else ''})",
                     {"session": session})


def speed_data(cfg: dict, data: str, dataset: str, log: Callable[[str], None]) -> SpeedData:
    """data: auto (the fold when real data is given or the suite is cached, else the
    stand-in) | suite (the fold; generates the suite if needed) | random."""
    real = bool(cfg["data"]["root"]) or bool(cfg["data"]["paths"])
    if data == "random":
        return standin_data(cfg, seed=cfg["seed"], why="--data random")
    if data == "suite" or real or (dataset.startswith("syn-") and suite_cached(cfg["data"]["synthetic_seed"])):
        return fold_data(cfg, dataset, log)
    return standin_data(cfg, seed=cfg["seed"],
                        why="the synthetic suite is not generated here: --data suite generates it")


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
        self.n_subsets = len(getattr(self.method, "subsets", None) or []) or None

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


def measure(cfg: dict, steps: int = 20, repeats: int = 7, data: str = "auto",
            dataset: str = "syn-kadid", log: Callable[[str], None] = print) -> dict:
    """Measure ``cfg['method']`` under ``cfg`` (a resolved config with ``method``) and
    return the report as a dict (see the module docstring for the blocks).

    Comparisons are interleaved step by step: bare, ERM and pre-cut ERM steps take turns
    (in rotating order) and harness/bare is the ratio of their median step times; the
    method's inner steps are each followed by an ERM step of the same batch size, and
    method/ERM is the median over repeats of (method block time less its ERM steps) /
    (those ERM steps). The data blocks are timed between them."""
    import torch

    from ..engine.method import build_network
    from ..core.registry import METHODS
    from ..engine.device import resolve_device
    from ..engine.samplers import BatchSampler
    from ..engine.engine import Engine

    method_cls = METHODS.get(cfg["method"])
    device = resolve_device(cfg["device"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sd = speed_data(cfg, data, dataset, log)
    ts = sd.train
    torch.manual_seed(cfg["seed"])
    # the method's own network (a deep baseline's), which its ERM-step reference also runs
    base, _ = build_network(method_cls, cfg, lambda m: None)
    fresh = lambda: copy.deepcopy(base)  # noqa: E731 - every loop starts from one init
    rng = np.random.default_rng(cfg["seed"])
    bs = min(int(cfg["train"]["batch_size"]), len(ts))
    crop = cfg["data"]["crop"]

    erm = Engine(cfg, fresh(), device, np.random.default_rng([cfg["seed"], 1]))
    erm_opt = erm.adam(erm.model.parameters(), cfg["train"]["lr"])
    erm_sampler = BatchSampler(np.arange(len(ts)), bs, erm.rng)
    meth_engine = Engine(cfg, fresh(), device, np.random.default_rng([cfg["seed"], 2]))
    block = MethodBlock(method_cls, cfg, meth_engine, sd, log)
    bare = BareLoop(fresh(), cfg, erm)
    # the same batches for both: uint8 crops cut once by the harness, on the device
    pre = []
    for _ in range(4):
        p = rng.choice(len(ts), bs, replace=False)
        pre.append((erm.crops(ts.bank, ts.index[p]), torch.from_numpy(ts.mos[p]).to(device)))
    # the harness's step fed those pre-cut crops: its machinery without the cutting
    precut = precut_engine(cfg, fresh(), device, np.random.default_rng([cfg["seed"], 6]), pre)
    precut_opt = precut.adam(precut.model.parameters(), cfg["train"]["lr"])
    matched = Engine(cfg, fresh(), device, np.random.default_rng([cfg["seed"], 3]))
    matched_opt = matched.adam(matched.model.parameters(), cfg["train"]["lr"])
    matched_samplers: dict[int, BatchSampler] = {}
    data_sampler = BatchSampler(np.arange(len(ts)), bs, np.random.default_rng([cfg["seed"], 4]))
    host_rng = np.random.default_rng([cfg["seed"], 5])
    host_out = np.empty((bs, crop, crop, 3), dtype=np.uint8)

    def clock() -> float:
        sync(device)
        return time.perf_counter()

    # --- the pieces
    def bare_step(k: int) -> float:
        t0 = clock()
        bare.step(*pre[k % len(pre)])
        return clock() - t0

    def erm_step(k: int) -> float:
        t0 = clock()
        erm.step(erm_opt, ts, erm_sampler.next())
        return clock() - t0

    def precut_step(k: int) -> float:
        t0 = clock()
        precut.step(precut_opt, ts, np.full(bs, k % len(pre)))
        return clock() - t0

    shadow_time = [0.0]

    def shadow(b: int) -> None:
        if b not in matched_samplers:
            matched_samplers[b] = BatchSampler(np.arange(len(ts)), b, matched.rng)
        t0 = clock()
        matched.step(matched_opt, ts, matched_samplers[b].next())
        shadow_time[0] += clock() - t0

    def method_block(n_iter: int) -> tuple[float, float, int, int]:
        """(method seconds, matched ERM seconds, inner steps, images)."""
        start = len(block.sizes)
        shadow_time[0] = 0.0
        block.shadow = shadow
        t0 = clock()
        block.run(n_iter)
        total = clock() - t0
        block.shadow = None
        got = block.sizes[start:]
        return total - shadow_time[0], shadow_time[0], len(got), int(sum(got))

    def data_block() -> float:
        t0 = clock()
        for _ in range(steps):
            erm.batch(ts, data_sampler.next())
        return clock() - t0

    def host_block() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            ts.bank.random_crops(ts.index[host_rng.integers(0, len(ts), bs)], crop, host_rng,
                                 cfg["data"]["flip"], out=host_out)
        return time.perf_counter() - t0

    # --- warm-up (allocator, optimizer state, compilation) and the method block's size
    # one method block: enough iterations for ``steps`` inner steps or as many images as
    # ``steps`` ERM steps, whichever comes first (a CIP step holds every subset's batch)
    first = len(block.sizes)
    per_iter = max(1, block.run(1))
    per_iter_images = max(1, sum(block.sizes[first:]))
    n_iter = max(1, min(math.ceil(steps / per_iter), math.ceil(steps * bs / per_iter_images)))
    trio = (bare_step, erm_step, precut_step)
    for k in range(2):
        for fn in trio:
            fn(k)
    method_block(n_iter)
    data_block(), host_block()

    bare_t, erm_t, precut_t = [], [], []
    meth_t, match_t, meth_ratio = [], [], []
    data_t, host_t = [], []
    n_steps = n_images = 0
    for r in range(repeats):
        for k in range(steps):
            t = {}
            for j in range(3):  # every order of the three in turn
                fn = trio[(r * steps + k + j) % 3]
                t[fn] = fn(k)
            bare_t.append(t[bare_step])
            erm_t.append(t[erm_step])
            precut_t.append(t[precut_step])
        tm, tx, n_steps, n_images = method_block(n_iter)
        meth_t.append(tm)
        match_t.append(tx)
        meth_ratio.append(tm / tx)
        data_t.append(data_block())
        host_t.append(host_block())

    med = statistics.median
    bare_s, erm_s = med(bare_t), med(erm_t)
    meth_s, match_s = med(meth_t), med(match_t)
    result = {
        "method": cfg["method"], "profile": cfg["profile"], "backbone": cfg["model"]["backbone"],
        "crop": crop, "device": str(device), "device_name": device_name(device),
        "torch_threads": torch.get_num_threads(), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "engine": {**erm.describe(), "placement": erm.placement_of(ts.bank)},
        "data": sd.kind, "data_description": sd.description, "n_train": len(ts),
        "n_subsets": block.n_subsets,
        "batch_size": bs, "method_batches": {"unit": block.unit, "iterations_per_block": n_iter,
                                             "steps_per_block": n_steps,
                                             "images_per_block": n_images,
                                             "batch_sizes": sorted(set(block.sizes))},
        "steps": steps, "repeats": repeats,
        "bare_img_s": bs / bare_s, "erm_img_s": bs / erm_s, "method_img_s": n_images / meth_s,
        "erm_precut_img_s": bs / med(precut_t),
        "erm_matched_img_s": n_images / match_s,
        "data_crops_s": steps * bs / med(data_t), "host_crops_s": steps * bs / med(host_t),
        "ms_per_step": {"bare": 1e3 * bare_s, "erm": 1e3 * erm_s,
                        "method": 1e3 * meth_s / max(1, n_steps),
                        "erm_matched": 1e3 * match_s / max(1, n_steps)},
        "harness_over_bare": bare_s / erm_s,
        "harness_step_over_bare": bare_s / med(precut_t),
        "method_over_erm": med(meth_ratio),
        "method_over_erm_per_image": (meth_s / n_images) / (erm_s / bs),
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
