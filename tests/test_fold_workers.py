"""`run --jobs N`: worker processes share a run's folds through the run folders' locks.
The run folders they write are the ones one process writes (same names, same predictions);
the worker command repeats every option the user gave; 'auto' picks one process per core
only where the thread count is fixed and the run is on the CPU."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.commands import run as run_command
from bench.commands.options import spec_from_args
from bench.core.errors import UsageError
from bench.app.fold_workers import auto_jobs, parse_jobs, worker_command
from bench.app.spec import with_absolute_out
from tests.test_run import NAME, release, run_folders  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]

# Registers the tiny release in every interpreter started with this folder on PYTHONPATH,
# the workers included (they are plain `python -m bench run` processes).
SITECUSTOMIZE = f"""
from bench.data.registry import DATASETS, DatasetSpec, dataset_names
from bench.data.synthetic import suite
from tests.test_run import load_release
dataset_names()
DATASETS[{NAME!r}] = DatasetSpec({NAME!r}, load_release, kind="synthetic", synthetic=False)
def no_suite(*a, **k):
    raise SystemExit("the synthetic suite must not be generated")
suite.ensure_suite = no_suite
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    run_command.add_arguments(p)
    return p


def test_jobs_values():
    assert parse_jobs("auto") is None and parse_jobs("3") == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(UsageError, match="--jobs"):
            parse_jobs(bad)


def test_jobs_default_comes_from_bench_jobs_else_auto(monkeypatch):
    assert parser().parse_args([]).jobs is None          # resolved in main: $BENCH_JOBS, auto
    monkeypatch.setenv("BENCH_JOBS", "0")
    import bench.commands.run as run_mod

    with pytest.raises(UsageError, match="--jobs must be at least 1"):
        run_mod.main(parser().parse_args(["--profile", "smoke"]))


def test_auto_jobs_one_per_core_only_with_fixed_threads_on_the_cpu(monkeypatch):
    import bench.app.launchers.local as local

    monkeypatch.setattr(local, "cpu_count", lambda: 4)
    cfg = {"device": "cpu", "engine": {"threads": 1}}
    assert auto_jobs(cfg, folds=25) == 4
    assert auto_jobs(cfg, folds=3) == 3                      # never more than the folds
    assert auto_jobs(cfg, folds=1) == 1
    assert auto_jobs({**cfg, "engine": {"threads": 2}}, folds=25) == 2
    assert auto_jobs({**cfg, "engine": {"threads": 0}}, folds=25) == 1  # torch takes all cores
    assert auto_jobs({**cfg, "device": "cuda"}, folds=25) == 1


def test_worker_command_repeats_the_run(tmp_path):
    args = parser().parse_args(["--method", "erm", "--profile", "smoke", "--seed", "4",
                                "--folds", "GB,LB", "--set", "train.lr=0.01", "--set",
                                "train.epochs=3", "--out", "rel", "--jobs", "2",
                                "--print-config"])
    spec = with_absolute_out(spec_from_args(args))
    argv = worker_command(spec)[4:]
    again = parser().parse_args(argv)
    assert spec_from_args(again) == spec
    assert spec_from_args(again).config() == spec_from_args(args).config()
    assert again.folds == "GB,LB" and again.jobs == "1" and again.quiet
    assert not again.print_config and Path(again.runs).is_absolute()


@pytest.mark.slow
def test_two_jobs_write_the_folders_one_job_writes(release, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("OMP_NUM_THREADS", None)

    def run(out: Path, jobs: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bench", "run", "--protocol", "lodo", "--method", "erm",
             "--profile", "smoke", "--dataset", NAME, "--device", "cpu", "--set",
             f"data.{NAME}={release}", "--out", str(out), "--jobs", jobs],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    shared = run(tmp_path / "two", "2")
    assert shared.returncode == 0, shared.stderr
    assert "2 processes share the 3 fold(s) to do" in shared.stderr
    alone = run(tmp_path / "one", "1")
    assert alone.returncode == 0, alone.stderr
    two, one = run_folders(tmp_path / "two"), run_folders(tmp_path / "one")
    assert set(two) == set(one) == {"A", "B", "C"}
    for fold in one:
        assert two[fold].name == one[fold].name
        assert (two[fold] / "predictions.csv").read_bytes() == (one[fold] / "predictions.csv").read_bytes()
    # every fold is in the table, and no worker log is left behind
    assert all(f"\n{fold} " in shared.stdout for fold in one)
    assert not (tmp_path / "two" / ".sweep-logs").exists()
