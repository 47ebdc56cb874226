"""Reading 500 run folders (issue 19): `leaderboard` and `report` (tables only: no figures,
no bootstrap, so the time is the reading) over 500 done LODO folders, 4 methods x 25
held-out types x 5 seeds, 60 test images each, scored on a dataset at hand (a release
holding only its score file, named by the runs' ``data.paths``), so the readers do every
check they can: the protocol's folds, the metrics recomputed from predictions.csv, the
predictions against the dataset's scores.

    python -m pytest benchmarks/bench_readers.py -p no:cacheprovider --benchmark-only -s

Run it in two checkouts to compare (report the ratio, not the seconds: the 2 cores are
shared); the folders are written by the one record writer, so any checkout reads them.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_release import make_lodo_run, register, write_release  # noqa: E402

NAME = "kadid10k"   # a paper dataset, so that `report` feeds Table 3
TYPES = tuple(f"T{k:02d}" for k in range(25))
METHODS = ("erm", "metaiqa", "cis", "cip")
SEEDS = range(5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """500 done run folders under a fresh folder; the release registered as NAME."""
    base = tmp_path_factory.mktemp("readers")
    release = write_release(base / "release", TYPES, per_type=60)
    register(NAME)
    root = base / "runs"
    for method in METHODS:
        for fold in TYPES:
            for seed in SEEDS:
                make_lodo_run(root, NAME, release, fold, method, seed,
                              noise=0.2 + 0.1 * METHODS.index(method))
    return root


def _quiet(argv: list[str]) -> int:
    from bench.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def _report(benchmark, name: str) -> None:
    print(f"\n{name}: median {benchmark.stats.stats.median:.3f} s over 500 folders "
          f"(load {os.getloadavg()[0]:.1f})")


def test_leaderboard_500(benchmark, runs):
    benchmark.group = "readers (500 run folders)"
    rc = benchmark.pedantic(_quiet, args=(["leaderboard", "--runs", str(runs)],), rounds=5,
                            warmup_rounds=1)
    assert rc == 0
    _report(benchmark, "leaderboard")


def test_report_tables_500(benchmark, runs, tmp_path):
    benchmark.group = "readers (500 run folders)"
    argv = ["report", "--runs", str(runs), "--out", str(tmp_path / "report"), "--no-figures",
            "--bootstrap", "0", "--tables", "3"]
    rc = benchmark.pedantic(_quiet, args=(argv,), rounds=3, warmup_rounds=1)
    assert rc == 0
    _report(benchmark, "report (tables)")
