"""Speed of the training step (issue 3): the harness against a bare PyTorch loop.

* One training step: ``Engine.step`` against a hand-written PyTorch step (same model, same
  batches, same Adam), once on pre-cut batches (the step alone) and once including the
  crop cutting (the harness's ``ImageBank.random_crops`` against a plain numpy crop).
  Requirement: the harness reaches at least 0.95 of the bare loop's images per second.
* One CIS meta-iteration over |S| subsets against |S| ERM steps of the same batch size.
  Requirement: at most 1.10 times the ERM time (the meta step copies parameters into
  buffers allocated once; no model deep-copy per subset).

The ratio tests time both sides interleaved in ONE run (short blocks, alternately; the
median over repeats of the paired ratios, so the machine's load swings cancel) and assert
the thresholds; the other cases give pytest-benchmark's raw timings. Run:

    python -m pytest benchmarks -p no:cacheprovider --benchmark-only -s

Environment: BENCH_DEVICE (cpu | cuda, default cpu), BENCH_THREADS (torch threads; default
1 on the CPU: with several intra-op threads, timings on a shared machine swing by a factor
of several as other processes take the cores), BENCH_REPEATS (interleaved repeats, default 41).
"""
from __future__ import annotations

import copy
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from bench.core.config import resolve
from bench.data.bank import ImageBank
from bench.methods.shared.division import build_subsets
from bench.engine.loop import FitContext
from bench.engine.models import build_model
from bench.engine.samplers import BatchSampler
from bench.engine.engine import Engine, TrainSet
from bench.methods.causal.cis import CIS

DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "41"))
THREADS = os.environ.get("BENCH_THREADS") or ("1" if DEVICE.type == "cpu" else "")


@pytest.fixture(scope="module", autouse=True)
def torch_threads():
    """BENCH_THREADS torch threads for this module's cases (restored afterwards)."""
    before = torch.get_num_threads()
    if THREADS:
        torch.set_num_threads(int(THREADS))
    yield
    torch.set_num_threads(before)


N_TYPES, N_LEVELS, N_REFS, N_CLUSTERS = 5, 2, 8, 2      # |S| = 5 types x 2 clusters = 10


def sync() -> None:
    """Wait for queued device work (CUDA) so wall-clock timings are honest."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class BareLoop:
    """The reference: a plain PyTorch training step (L1 loss, Adam, foreach) on tensors
    given by the caller; ``loss.item()`` as any loop that logs its loss."""

    def __init__(self, model: torch.nn.Module, cfg: dict):
        self.model = model.to(DEVICE).train()
        t = cfg["train"]
        self.opt = torch.optim.Adam(self.model.parameters(), lr=t["lr"], betas=tuple(t["betas"]),
                                    weight_decay=t["weight_decay"], foreach=True)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = (self.model(x) - y).abs().mean()
        loss.backward()
        self.opt.step()
        return loss.item()


def bare_batch(arr: np.ndarray, mos: np.ndarray, idx: np.ndarray, crop: int,
               rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops with flips cut with plain numpy, then to float on the device: what a
    bare loop over an in-memory uint8 array does."""
    span = arr.shape[1] - crop + 1
    ys, xs = rng.integers(0, span, len(idx)), rng.integers(0, span, len(idx))
    flips = rng.random(len(idx)) < 0.5
    crops = np.stack([arr[i, y:y + crop, x:x + crop][:, ::-1] if f else arr[i, y:y + crop, x:x + crop]
                      for i, y, x, f in zip(idx, ys, xs, flips)])
    x = torch.from_numpy(crops).to(DEVICE).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    return x, torch.from_numpy(mos[idx]).to(DEVICE)


class PreCutEngine(Engine):
    """The harness engine fed pre-cut batches: position k of ``pos`` names batch k, so the
    timing isolates ``Engine.step`` (loss, zero_grad, backward, step, NaN check)."""

    pre: list

    def batch(self, ts, pos):
        return self.pre[int(pos[0])]


@dataclass
class Rig:
    """Everything the cases share: config, data, the two sides of each comparison."""

    cfg: dict
    ts: TrainSet
    arr: np.ndarray
    batches: list            # pre-cut (x, y) on the device
    positions: list          # the same batches as training positions
    bare: BareLoop
    harness: PreCutEngine
    harness_opt: torch.optim.Optimizer
    bare_crop: BareLoop
    engine: Engine
    engine_opt: torch.optim.Optimizer
    cis: Callable[[], list]
    erm: Callable[[], list]


def make_rig() -> Rig:
    """The quick profile's model and batch size on a random 72 px bank (CPU unless
    BENCH_DEVICE says otherwise); every model a copy of one initialisation."""
    cfg = resolve("quick", {"device": str(DEVICE)}, method="cis")
    size, bs = cfg["data"]["size"], cfg["train"]["batch_size"]
    rng = np.random.default_rng(0)
    n = N_TYPES * N_LEVELS * N_REFS
    arr = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    types = [("syn", f"T{k % N_TYPES}") for k in range(n)]
    levels = [(k // N_TYPES) % N_LEVELS for k in range(n)]
    refs = [("syn", f"R{k // (N_TYPES * N_LEVELS)}") for k in range(n)]
    ts = TrainSet(ImageBank([arr]), np.arange(n), rng.random(n).astype(np.float32),
                  ["syn"] * n, [t for _, t in types], levels, refs)
    torch.manual_seed(0)
    base, _ = build_model(cfg["model"], log=lambda m: None)
    dev = lambda: copy.deepcopy(base)

    positions = [rng.choice(n, bs, replace=False) for _ in range(8)]
    cutter = Engine(cfg, dev(), DEVICE, np.random.default_rng(1))
    batches = [cutter.batch(ts, p) for p in positions]

    harness = PreCutEngine(cfg, dev(), DEVICE, np.random.default_rng(2))
    harness.pre = batches
    engine = Engine(cfg, dev(), DEVICE, np.random.default_rng(3))

    # CIS vs ERM: |S| subsets with the per-subset batch, against |S| ERM steps of that batch
    sb = cfg["method_settings"]["subset_batch"]["default"]
    w_ref = {r: rng.dirichlet(np.ones(N_CLUSTERS)) for r in set(refs)}
    subsets = build_subsets(types, refs, w_ref, N_CLUSTERS)
    assert len(subsets) == N_TYPES * N_CLUSTERS
    cis_engine = Engine(cfg, dev(), DEVICE, np.random.default_rng(4))
    ctx = FitContext(cis_engine, ts, cfg, lambda e, loss: None)
    method = CIS(cfg)
    method.divide = lambda ctx: (subsets, None)   # random soft clusters stand in
    method.setup(ctx)             # the hooks the engine's loop calls: setup, then update
    erm_engine = Engine(cfg, dev(), DEVICE, np.random.default_rng(5))
    erm_opt = erm_engine.adam(erm_engine.model.parameters(), cfg["train"]["lr"])
    sampler = BatchSampler(np.arange(n), sb, erm_engine.rng)

    def cis() -> list:
        return method.update(ctx)

    def erm() -> list:
        return [erm_engine.step(erm_opt, ts, sampler.next()) for _ in range(len(subsets))]

    return Rig(cfg, ts, arr, batches, positions, BareLoop(dev(), cfg), harness,
               harness.adam(harness.model.parameters(), cfg["train"]["lr"]),
               BareLoop(dev(), cfg), engine, engine.adam(engine.model.parameters(), cfg["train"]["lr"]),
               cis, erm)


@pytest.fixture(scope="module")
def rig() -> Rig:
    return make_rig()


# --------------------------------------------------------------------------- the four loops
def bare_precut(r: Rig, k: int) -> float:
    x, y = r.batches[k % len(r.batches)]
    return r.bare.step(x, y)


def harness_precut(r: Rig, k: int) -> float:
    b = len(r.positions[0])
    return r.harness.step(r.harness_opt, r.ts, np.full(b, k % len(r.batches)))


_bare_rng = np.random.default_rng(6)


def bare_with_crops(r: Rig, k: int) -> float:
    x, y = bare_batch(r.arr, r.ts.mos, r.positions[k % len(r.positions)], r.cfg["data"]["crop"], _bare_rng)
    return r.bare_crop.step(x, y)


def harness_with_crops(r: Rig, k: int) -> float:
    return r.engine.step(r.engine_opt, r.ts, r.positions[k % len(r.positions)])


@dataclass
class Paired:
    """Timings of two callables measured alternately: seconds per repeat of each."""

    a: list
    b: list

    @property
    def ratio(self) -> float:
        """Median over repeats of a_i / b_i: each pair ran back to back, so slow swings
        of the machine's load (other processes) cancel in the ratio."""
        return statistics.median(x / y for x, y in zip(self.a, self.b))

    @property
    def ratio_of_minima(self) -> float:
        """min(a) / min(b): the least disturbed run of each, a second estimate."""
        return min(self.a) / min(self.b)


def interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int) -> Paired:
    """Time ``a`` and ``b`` alternately (a, b, then b, a every second repeat, so neither
    always goes first) after one warm-up call each."""
    a(), b()
    sync()
    ta, tb = [], []
    for rep in range(repeats):
        for fn, out in ((a, ta), (b, tb)) if rep % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - t0)
    return Paired(ta, tb)


def steps(fn: Callable[[Rig, int], float], r: Rig, n: int) -> Callable[[], None]:
    """A callable running ``n`` steps of ``fn``."""
    def run() -> None:
        for k in range(n):
            fn(r, k)
    return run


# --------------------------------------------------------------------------- raw timings
@pytest.mark.parametrize("loop", [bare_precut, harness_precut, bare_with_crops, harness_with_crops],
                         ids=lambda f: f.__name__)
def test_step(benchmark, rig, loop):
    counter = iter(range(10**9))
    benchmark.group = "one training step, quick model, batch 32"

    def one():
        loop(rig, next(counter))
        sync()

    benchmark(one)


def test_cis_meta_iteration(benchmark, rig):
    benchmark.group = "CIS meta-iteration vs |S| ERM steps"
    benchmark(lambda: (rig.cis(), sync()))


def test_erm_steps_as_many_as_subsets(benchmark, rig):
    benchmark.group = "CIS meta-iteration vs |S| ERM steps"
    benchmark(lambda: (rig.erm(), sync()))


# --------------------------------------------------------------------------- the ratios
def _ratio_case(benchmark, a, b, label: str, repeats: int = REPEATS) -> Paired:
    """Run :func:`interleaved` once under pytest-benchmark (so --benchmark-only keeps it)."""
    benchmark.group = "ratios (interleaved, paired medians)"
    paired = benchmark.pedantic(lambda: interleaved(a, b, repeats), rounds=1, iterations=1)
    benchmark.extra_info[label] = {"ratio": paired.ratio, "ratio_of_minima": paired.ratio_of_minima,
                                   "a_median_s": statistics.median(paired.a),
                                   "b_median_s": statistics.median(paired.b)}
    return paired


@pytest.mark.parametrize("crops", [False, True], ids=["step-only", "with-crop-cutting"])
def test_harness_reaches_095_of_bare_loop(benchmark, rig, crops):
    n = 2                                # short blocks: finely interleaved, better paired
    bare, harness = (bare_with_crops, harness_with_crops) if crops else (bare_precut, harness_precut)
    t = _ratio_case(benchmark, steps(bare, rig, n), steps(harness, rig, n), "bare/harness")
    imgs = n * len(rig.positions[0])
    ratio = t.ratio                      # bare time / harness time = harness img/s / bare img/s
    print(f"\n[{'with crops' if crops else 'step only'}] bare {imgs / statistics.median(t.a):.0f} img/s, "
          f"harness {imgs / statistics.median(t.b):.0f} img/s, harness/bare = {ratio:.3f} "
          f"(need >= 0.95; {DEVICE}, {torch.get_num_threads()} threads, {REPEATS} pairs)")
    assert ratio >= 0.95


def test_cis_iteration_costs_at_most_110_erm_steps(benchmark, rig):
    n_iter = 1
    cis = lambda: [rig.cis() for _ in range(n_iter)]
    erm = lambda: [rig.erm() for _ in range(n_iter)]
    t = _ratio_case(benchmark, cis, erm, "cis/erm")
    ratio = t.ratio
    n_sub = N_TYPES * N_CLUSTERS
    print(f"\n[CIS] one meta-iteration over {n_sub} subsets {1e3 * statistics.median(t.a) / n_iter:.1f} ms, "
          f"{n_sub} ERM steps {1e3 * statistics.median(t.b) / n_iter:.1f} ms, CIS/ERM = {ratio:.3f} "
          f"(need <= 1.10; {len(t.a)} pairs)")
    assert ratio <= 1.10
