"""Tests of sweep expansion and planning (bench.app.sweep, `python -m bench sweep --dry-run`).

They use a tiny KADID-10k release (3 references x 3 types x 2 levels, 40x40 px) written
by :func:`write_tiny_kadid` and the smoke profile; test_launchers.py reuses these helpers.
"""
from __future__ import annotations

import argparse
import fcntl
import os
from pathlib import Path

import numpy as np
import pytest

from bench.cli import build_parser
from bench.cli import main as cli_main
from bench.commands.options import spec_from_args
from bench.commands.sweep import sweep_plan
from bench.core.settings import Setting
from bench.engine.protocol import Fold, Protocol
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS
from bench.engine.session import load_plan, run_folder
from bench.app.spec import RunSpec
from bench.app.sweep import Axis, clean_stale, expand, plan

REPO = Path(__file__).resolve().parents[1]


def write_tiny_kadid(root: Path) -> Path:
    """A KADID-10k official layout (images/IXX.png, images/IXX_TT_LL.png, dmos.csv) with 3
    references x types 1-3 (GB, LB, MB) x levels 1-2, 40x40 px; scores fall with t and l."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = ["dist_img,ref_img,dmos,var"]
    for r in range(1, 4):
        ref = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(ref).save(root / "images" / f"I{r:02d}.png")
        for t in range(1, 4):
            for level in (1, 2):
                img = np.clip(ref + rng.normal(0, 15 * t * level, ref.shape), 0, 255)
                name = f"I{r:02d}_{t:02d}_{level:02d}.png"
                Image.fromarray(img.astype(np.uint8)).save(root / "images" / name)
                dmos = 4.8 - 0.6 * t - 0.5 * level + rng.uniform(-0.2, 0.2)
                rows.append(f"{name},I{r:02d}.png,{dmos:.3f},0.1")
    (root / "dmos.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="session")
def tiny_kadid(tmp_path_factory) -> Path:
    """The tiny KADID-10k release folder, written once per session."""
    return write_tiny_kadid(tmp_path_factory.mktemp("tiny-kadid"))


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory) -> Path:
    """One BENCH_CACHE for the session (the tiny set is decoded once)."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture
def env(bench_cache, monkeypatch) -> dict:
    """BENCH_CACHE set here (in-process calls, submitit jobs) and the environment for
    child processes."""
    monkeypatch.setenv("BENCH_CACHE", str(bench_cache))
    return dict(os.environ)


def tiny_options(kadid: Path) -> list[str]:
    """Options every tiny sweep shares: smoke profile, CPU, the tiny KADID-10k release."""
    return ["--profile", "smoke", "--device", "cpu", "--dataset", "kadid10k",
            "--set", f"data.kadid10k={kadid}"]


def sweep_specs(argv: list[str]) -> list[RunSpec]:
    """The run specs of `sweep <argv>`, parsed and expanded as the CLI does."""
    return expand(*sweep_plan(build_parser().parse_args(["sweep", *argv])))


def run_folders_of(argv: list[str]) -> list[Path]:
    """The run folders `python -m bench run <argv>` writes, through run's own path."""
    args = build_parser().parse_args(["run", *argv])
    cfg = spec_from_args(args).config()
    return [run_folder(cfg, f, Path(args.runs)) for f in load_plan(cfg, lambda m: None).folds]


def test_expansion_is_the_cartesian_product_with_run_hashes(tiny_kadid, env, tmp_path):
    out = tmp_path / "runs"
    base = tiny_options(tiny_kadid) + ["--out", str(out)]
    units = plan(sweep_specs(base + ["--method", "erm,cis", "--seed", "0,1,2"]), lambda m: None)
    assert len(units) == 2 * 3 * 3  # methods x seeds x the tiny set's 3 LODO folds
    assert len({u.folder for u in units}) == len(units)
    expected = []
    for method in ("erm", "cis"):
        for seed in ("0", "1", "2"):
            expected += run_folders_of(base + ["--method", method, "--seed", seed])
    assert [u.folder for u in units] == expected
    # a unit's child command line is its spec, and resolves to its folder through `run`'s parser
    unit = units[7]
    argv = unit.command()[4:]
    assert argv[-3:] == ["--jobs", "1", "--quiet"] and unit.spec.folds == (unit.fold,)
    assert spec_from_args(build_parser().parse_args(["run", *argv])) == unit.spec
    assert run_folders_of(argv[:-3]).count(unit.folder) == 1


def test_folds_option_restricts_units_and_rejects_unknown_names(tiny_kadid, env, tmp_path):
    base = tiny_options(tiny_kadid) + ["--out", str(tmp_path), "--seed", "0,1"]
    units = plan(sweep_specs(base + ["--folds", "GB,MB"]), lambda m: None)
    assert [u.fold for u in units] == ["GB", "MB", "GB", "MB"]
    assert cli_main(["sweep", *base, "--folds", "NOPE", "--dry-run"]) == 2


class _SplitProtocol(Protocol):
    """A protocol taking --train-ratio and --splits (and no --dataset), for expansion."""

    settings = {"train_ratio": Setting(0.8, "float", "share that trains", low=0, high=1,
                                       flag="train-ratio"),
                "splits": Setting(1, "int", "splits", low=1, flag="splits")}

    def datasets(self, opts):
        return ["kadid10k"]

    def folds(self, opts, datasets, seed=0):
        n = len(datasets["kadid10k"])
        return [Fold(f"split{k}", [Fit([("kadid10k", list(range(n // 2)))])],
                     {"kadid10k": ("kadid10k", list(range(n // 2, n)))})
                for k in range(int(opts["splits"]))]


@pytest.fixture
def split_protocol():
    """_SplitProtocol registered as 'sweep-test-split' for one test."""
    PROTOCOLS.add("sweep-test-split", _SplitProtocol)
    yield "sweep-test-split"
    PROTOCOLS._items.pop("sweep-test-split", None)


def test_protocol_options_only_go_to_protocols_taking_them(split_protocol, env, tmp_path):
    argv = ["--protocol", "lodo,sweep-test-split", "--train-ratio", "0.3,0.5",
            "--dataset", "kadid10k", "--out", str(tmp_path)]
    runs = sweep_specs(argv)
    lodo = [r for r in runs if r.protocol == "lodo"]
    split = [r for r in runs if r.protocol == "sweep-test-split"]
    assert len(lodo) == 1 and lodo[0].options == {"dataset": "kadid10k"}
    assert [r.options for r in split] == [{"train_ratio": 0.3}, {"train_ratio": 0.5}]
    # an option no protocol of the sweep takes is still an error
    assert cli_main(["sweep", "--protocol", "lodo", "--train-ratio", "0.5", "--dry-run",
                     "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("bad", [["--seed", "0,x"], ["--method", "erm,nope"], ["--seed", ","]])
def test_bad_list_items_are_usage_errors(tiny_kadid, env, tmp_path, capsys, bad):
    argv = ["sweep", *tiny_options(tiny_kadid), "--out", str(tmp_path), "--dry-run", *bad]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error:")


def test_dry_run_lists_done_and_to_do_and_a_done_unit_is_skipped(tiny_kadid, env, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = [*tiny_options(tiny_kadid), "--out", str(out), "--method", "erm", "--seed", "0,1"]
    units = plan(sweep_specs(argv), lambda m: None)
    assert len(units) == 6 and not any(u.done for u in units)
    # run one unit exactly as the local launcher does (its `run` command line), in this process
    assert cli_main(units[4].command()[3:]) == 0
    capsys.readouterr()
    assert cli_main(["sweep", *argv, "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "6 runs, 1 done, 5 to do"
    rows = {line.split()[-1]: line.split()[0] for line in lines[1:-1]}
    assert rows == {str(u.folder): ("done" if k == 4 else "to") for k, u in enumerate(units)}
    assert sorted(p.name for p in out.iterdir()) == [units[4].name]  # dry run wrote nothing
    # the done unit is never run again: a sweep of it alone has nothing to do ...
    done = units[4].folder
    stamp = {p.name: p.stat().st_mtime_ns for p in done.iterdir()}
    assert cli_main(["sweep", *argv, "--folds", units[4].fold, "--seed", "1"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    # ... and a launcher handed it anyway (done after planning) does not start it
    from bench.app.launchers.local import LocalLauncher

    report = LocalLauncher(argparse.Namespace(jobs=1)).launch([units[4]], lambda m: None)
    assert [r.status for r in report.results] == ["skipped"]
    assert {p.name: p.stat().st_mtime_ns for p in done.iterdir()} == stamp


def test_clean_stale_removes_temp_files_only_under_the_lock(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    tmp = folder / ".metrics.json.x1.tmp"
    tmp.write_text("half")
    with open(folder / ".lock", "a+") as fh:  # another worker holds the folder
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        assert clean_stale(folder) is False and tmp.exists()
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    assert clean_stale(folder) is True and not tmp.exists()
    (folder / "done").write_text("")
    tmp.write_text("x")
    assert clean_stale(folder) is True and tmp.exists()  # a done folder is never touched


def test_a_sweep_planned_from_python_equals_the_cli_sweep(tiny_kadid, env, tmp_path):
    """Specs and axes built in Python plan the units the command line plans, and a method
    setting goes only to the methods that declare it."""
    out = tmp_path / "runs"
    base = RunSpec(method="erm", profile="smoke", options={"dataset": "kadid10k"},
                   settings={"device": "cpu", "data.kadid10k": str(tiny_kadid)}, out=str(out))
    axes = [Axis("method", ["erm", "cis"]), Axis("setting", [1, 2], "method.clusters")]
    specs = expand(base, axes)
    assert [(s.method, s.settings.get("method.clusters")) for s in specs] == \
        [("erm", None), ("cis", 1), ("cis", 2)]
    cli = sweep_specs([*tiny_options(tiny_kadid), "--method", "erm,cis", "--clusters", "1,2",
                       "--out", str(out)])
    assert [u.folder for u in plan(specs, lambda m: None)] == \
        [u.folder for u in plan(cli, lambda m: None)]
