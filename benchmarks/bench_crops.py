"""Cutting random training crops (issue 2 Speed, issue 6): uint8, 224 px, with flips, from
a decoded cache of 2,000 images at 256 px (a memory-mapped file, as the cache is).

Target: at least 8,000 crops per second on 2 cores (``ImageBank.random_crops``, the host
path every device can use). Also timed, for comparison: the numpy loop it replaced
(``src[:, ::-1]`` copies, 3 bytes per inner loop), ``Engine.batch`` (crops moved to the
device and converted to float), and on a GPU the device bank's one-gather batches.

    python -m pytest benchmarks/bench_crops.py -p no:cacheprovider --benchmark-only -s

Environment: BENCH_DEVICE (cpu | cuda, default cpu), BENCH_CROP_BATCH (default 256).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from bench.core.config import resolve
from bench.data.bank import ImageBank, draw_crops
from bench.data.device_bank import DeviceBank
from bench.engine.models import build_model
from bench.engine.engine import Engine, TrainSet

N, SIZE, CROP = 2000, 256, 224
BATCH = int(os.environ.get("BENCH_CROP_BATCH", "256"))
DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
TARGET = 8000.0


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> ImageBank:
    """2,000 random 256 px images in a read-only memmap (the decoded cache's form)."""
    path = tmp_path_factory.mktemp("crops") / "cache.u8"
    rng = np.random.default_rng(0)
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=(N, SIZE, SIZE, 3))
    for a in range(0, N, 250):
        mm[a:a + 250] = rng.integers(0, 256, size=(min(250, N - a), SIZE, SIZE, 3), dtype=np.uint8)
    mm.flush()
    del mm
    return ImageBank([np.memmap(path, dtype=np.uint8, mode="r", shape=(N, SIZE, SIZE, 3))])


def legacy_random_crops(bank: ImageBank, idx, crop, rng, flip=True):
    """The numpy loop ImageBank used before (same draws, same bytes)."""
    ys, xs, flips = draw_crops(len(idx), bank.size, crop, rng, flip)
    out = np.empty((len(idx), crop, crop, 3), dtype=np.uint8)
    for k, g in enumerate(idx):
        src = bank.arrays[bank.which[g]][bank.local[g], ys[k]:ys[k] + crop, xs[k]:xs[k] + crop]
        out[k] = src[:, ::-1] if flips[k] else src
    return out


def crops_per_second(benchmark, n: int) -> float:
    rate = n / benchmark.stats.stats.median
    benchmark.extra_info["crops_per_s"] = round(rate)
    return rate


def test_host_random_crops_224(benchmark, bank):
    rng = np.random.default_rng(1)
    benchmark.group = f"random crops {CROP} px with flips, batch {BATCH}"
    out = np.empty((BATCH, CROP, CROP, 3), dtype=np.uint8)
    benchmark(lambda: bank.random_crops(rng.integers(0, N, BATCH), CROP, rng, True, out=out))
    rate = crops_per_second(benchmark, BATCH)
    print(f"\nImageBank.random_crops: {rate:,.0f} crops/s ({torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}); target >= {TARGET:,.0f}")
    assert rate >= TARGET


def test_same_bytes_as_the_legacy_loop(bank):
    idx = np.random.default_rng(2).integers(0, N, 64)
    np.testing.assert_array_equal(bank.random_crops(idx, CROP, np.random.default_rng(3)),
                                  legacy_random_crops(bank, idx, CROP, np.random.default_rng(3)))


def test_legacy_numpy_loop_224(benchmark, bank):
    rng = np.random.default_rng(1)
    benchmark.group = f"random crops {CROP} px with flips, batch {BATCH}"
    benchmark(lambda: legacy_random_crops(bank, rng.integers(0, N, BATCH), CROP, rng))
    print(f"\nlegacy numpy loop: {crops_per_second(benchmark, BATCH):,.0f} crops/s")


def test_engine_batch_224(benchmark, bank):
    """Crops on the device as float: what a training step waits for."""
    cfg = resolve("paper", {"device": str(DEVICE)})
    model, _ = build_model({**cfg["model"], "pretrained": False}, lambda m: None)
    engine = Engine(cfg, model, DEVICE, np.random.default_rng(4))
    ts = TrainSet(bank, np.arange(N), np.zeros(N, np.float32), ["x"] * N, [None] * N, [None] * N,
                  [None] * N)
    sampler_rng = np.random.default_rng(5)

    def one():
        x, _ = engine.batch(ts, sampler_rng.integers(0, N, BATCH))
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        return x

    benchmark.group = f"Engine.batch {CROP} px, batch {BATCH}"
    benchmark(one)
    print(f"\nEngine.batch on {DEVICE} ({engine.placement_of(bank)} placement): "
          f"{crops_per_second(benchmark, BATCH):,.0f} crops/s")


@pytest.mark.skipif(DEVICE.type != "cuda" or not torch.cuda.is_available(), reason="needs BENCH_DEVICE=cuda")
def test_device_bank_gather_224(benchmark, bank):
    dev = DeviceBank.of(bank, DEVICE)
    rng = np.random.default_rng(6)

    def one():
        x = dev.random_crops(rng.integers(0, N, BATCH), CROP, rng)
        torch.cuda.synchronize()
        return x

    benchmark.group = f"random crops {CROP} px with flips, batch {BATCH}"
    benchmark(one)
    print(f"\nDeviceBank gather on {torch.cuda.get_device_name()}: "
          f"{crops_per_second(benchmark, BATCH):,.0f} crops/s")
