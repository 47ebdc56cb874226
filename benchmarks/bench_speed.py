"""The cases of `python -m bench speed` (issue 6) under pytest-benchmark: for each method,
one interleaved measurement (bench.app.speed.measure: bare loop, ERM step, the method's step,
data pipeline; medians), its figures kept in the benchmark's extra_info and printed.

CIS is held to the issue's targets: harness/bare >= 0.95 and a CIS meta-iteration at most
1.10 x the same number of ERM steps on the same batch sizes.

    python -m pytest benchmarks/bench_speed.py -p no:cacheprovider --benchmark-only -s

Environment: BENCH_DEVICE (cpu | cuda | auto, default cpu), BENCH_PROFILE (default quick),
BENCH_THREADS (torch threads; default: as `bench speed` picks them: the profile's
engine.threads, else torch's default, or 1 on a busy CPU), BENCH_STEPS (default 20),
BENCH_REPEATS (default 7), BENCH_DATA (auto | suite | random, default auto).
"""
from __future__ import annotations

import os

import pytest
import torch

from bench.core.config import resolve
from bench.app.speed import measure
from bench.app.speed_report import format_report

DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
PROFILE = os.environ.get("BENCH_PROFILE", "quick")
THREADS = os.environ.get("BENCH_THREADS", "")
STEPS = int(os.environ.get("BENCH_STEPS", "20"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
DATA = os.environ.get("BENCH_DATA", "auto")


@pytest.fixture(scope="module", autouse=True)
def torch_threads():
    """The threads `python -m bench speed` would use (BENCH_THREADS overrides)."""
    from bench.commands.speed import cpu_threads

    before = torch.get_num_threads()
    cfg = resolve(PROFILE)
    n, why = cpu_threads(int(THREADS) if THREADS else None, int(cfg["engine"].get("threads") or 0),
                         before, os.getloadavg()[0], os.cpu_count() or 1)
    torch.set_num_threads(n)
    yield why
    torch.set_num_threads(before)


THREADS_WHY: dict = {}


@pytest.fixture(autouse=True)
def _why(torch_threads):
    THREADS_WHY["why"] = torch_threads


def run_case(benchmark, method: str) -> dict:
    cfg = resolve(PROFILE, {"device": DEVICE}, method=method)
    benchmark.group = f"bench speed, {PROFILE} profile on {DEVICE}"
    result = benchmark.pedantic(lambda: measure(cfg, STEPS, REPEATS, DATA, log=lambda m: None),
                                rounds=1, iterations=1)
    result["torch_threads_why"] = THREADS_WHY.get("why")
    for key in ("bare_img_s", "erm_img_s", "method_img_s", "erm_matched_img_s", "data_crops_s",
                "host_crops_s", "harness_over_bare", "method_over_erm",
                "method_over_erm_per_image", "peak_host_mb", "peak_device_mb", "load_avg"):
        if key in result:
            benchmark.extra_info[key] = result[key]
    print("\n" + format_report(result))
    return result


def test_speed_cis(benchmark):
    r = run_case(benchmark, "cis")
    assert r["harness_over_bare"] >= 0.95
    assert r["method_over_erm"] <= 1.10


@pytest.mark.parametrize("method", ["erm", "cip", "metaiqa"])
def test_speed_other_methods(benchmark, method):
    r = run_case(benchmark, method)
    assert r["method_img_s"] > 0 and r["harness_over_bare"] > 0
