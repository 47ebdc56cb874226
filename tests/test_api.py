"""The Python API (bench/app/api.py): a caller runs a LODO fold from a RunSpec, without a
command line, and gets the records; `run` with the same options finds the same run folder
done. Specs resolve exactly as the command line does, and a spec's `run` command line
(what a child process or a remote job gets) gives the spec back."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import RunSpec
from bench.cli import build_parser
from bench.cli import main as cli_main
from bench.commands.options import spec_from_args
from bench.core.errors import UsageError
from tests.test_run import NAME, release  # noqa: F401 - the tiny release fixture

ROOT = Path(__file__).resolve().parents[1]

DRIVER = """
import csv, json, sys
from pathlib import Path
from bench import RunSpec, run
from bench.data.records import Dataset, Record
from bench.data.registry import DATASETS, DatasetSpec, dataset_names

NAME, release = sys.argv[2], Path(sys.argv[3])


def load(root):  # the tiny release of tests/test_run.py, read without importing the tests
    with open(Path(root) / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    records = [Record(image=r["image"], mos=float(r["mos"]), mos_raw=float(r["mos"]),
                      ref=r["ref"], ref_image=r["ref_image"], dist_type=r["type"],
                      level=int(r["level"])) for r in rows]
    return Dataset(NAME, Path(root), records, "synthetic", sorted({r["type"] for r in rows}))


dataset_names()
DATASETS[NAME] = DatasetSpec(NAME, load, kind="synthetic", synthetic=False)
records = run(RunSpec(protocol="lodo", method="erm", profile="smoke", folds=("A",),
                      options={"dataset": NAME},
                      settings={"device": "cpu", "data." + NAME: str(release)}, out=sys.argv[1]))
loaded = sorted(m for m in sys.modules if m.startswith(("bench.commands", "bench.cli")))
print(json.dumps({"folds": [r.fold for r in records], "targets": records[0].targets,
                  "cli_modules": loaded}))
"""


@pytest.mark.slow
def test_a_lodo_fold_runs_from_a_spec_without_argv(tmp_path, release):
    out = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # BENCH_CACHE: the release fixture's
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(out), NAME, str(release)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["folds"] == ["A"] and got["cli_modules"] == []   # no command line involved
    t = got["targets"][NAME]
    assert t["n"] > 0 and -1 <= t["srocc"] <= 1
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "done").is_file()
    # the command line with the same options finds that folder done (same config, same hash)
    argv = ["run", "--protocol", "lodo", "--method", "erm", "--profile", "smoke", "--dataset",
            NAME, "--set", f"data.{NAME}={release}", "--folds", "A", "--device", "cpu",
            "--runs", str(out), "--quiet"]
    assert cli_main(argv) == 0
    assert [p for p in out.iterdir() if p.is_dir()] == folders


@pytest.mark.parametrize("argv", [
    ["--method", "erm", "--profile", "smoke", "--seed", "3", "--set", "train.lr=0.01"],
    ["--protocol", "finetune", "--method", "cis", "--train-ratio", "0.5", "--splits", "2",
     "--clusters", "3", "--set", "data.root=\"1\"", "--set", "protocol.splits=4"],
    ["--protocol", "fr-fewlabel", "--method", "cdfr", "--label-fraction", "0.1,0.5",
     "--folds", "f0.1-s0,f0.5-s0", "--out", "elsewhere"],
])
def test_a_specs_command_line_gives_the_spec_back(argv):
    spec = spec_from_args(build_parser().parse_args(["run", *argv]))
    again = spec_from_args(build_parser().parse_args(["run", *spec.argv()]))
    assert again == spec


def test_spec_values_are_checked_when_resolved():
    with pytest.raises(UsageError, match="train.lr"):
        RunSpec(method="erm", profile="smoke", settings={"train.lr": "fast"}).config()
    with pytest.raises(UsageError, match="--train-ratio does not apply to protocol 'lodo'"):
        RunSpec(method="erm", options={"train_ratio": 0.5}).config()
    with pytest.raises(UsageError, match="did you mean 'erm'"):
        RunSpec(method="ermm").config()
