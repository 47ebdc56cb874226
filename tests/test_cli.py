"""Usage errors of `python -m bench run`: an unknown method, protocol, dataset, profile or
--set key gives ONE line on stderr naming the valid choices, exit status 2, no traceback,
and is caught before any data is loaded (the synthetic suite is never generated)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from tests.no_data import forbid_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def no_data(monkeypatch, tmp_path):
    """BENCH_CACHE in tmp; loading any data (the plan, the suite) fails the test."""
    forbid_data(monkeypatch, tmp_path, 'the command line was validated', 'load_plan', 'prepare')
    return tmp_path / "cache"


CASES = [
    # (extra arguments, the kind named, the unknown value, names the error must list)
    (["--method", "nosuch"], "method", "nosuch", ["cis", "cip", "erm", "metaiqa", "cis-c", "cip+m"]),
    (["--protocol", "nosuch"], "protocol", "nosuch", ["lodo"]),
    (["--dataset", "nosuch"], "dataset", "nosuch", ["syn-kadid", "kadid10k", "tid2013", "syn-mlive"]),
    (["--set", "train.nosuch=1"], "--set key", "train.nosuch", ["train.lr", "train.epochs", "method.clusters"]),
    (["--set", "nosuch.lr=1"], "--set key", "nosuch.lr", ["train.lr", "method.meta_lr"]),
    (["--profile", "nosuch"], "profile", "nosuch", ["smoke", "quick", "paper"]),
]


def check_usage_error(rc: int, err: str, kind: str, bad: str, valid: list[str]) -> None:
    """Exit 2, one stderr line naming the unknown kind and the valid choices, no traceback."""
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("bench: error:")
    assert f"unknown {kind} '{bad}'" in line and "valid choices:" in line
    listed = {x.strip() for x in line.split("valid choices:", 1)[1].split(",")}
    assert set(valid) <= listed


@pytest.mark.parametrize("args,kind,bad,valid", CASES, ids=[c[1] + ":" + c[2] for c in CASES])
def test_usage_errors_are_one_line_with_choices(no_data, capsys, args, kind, bad, valid):
    rc = main(["run", "--profile", "smoke", "--out", "unused", *args]
              if "--profile" not in args else ["run", "--out", "unused", *args])
    captured = capsys.readouterr()
    check_usage_error(rc, captured.err, kind, bad, valid)
    assert captured.out == ""
    assert not (no_data / "synthetic").exists()


@pytest.mark.slow
def test_usage_error_in_a_real_process_has_no_traceback(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "BENCH_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--protocol", "lodo",
                           "--method", "nosuch", "--profile", "smoke", "--out", str(tmp_path / "runs")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    check_usage_error(proc.returncode, proc.stderr, "method", "nosuch", ["cis", "cip", "erm", "metaiqa"])
    assert proc.stdout == ""
    # nothing was generated or decoded, and no run folder was made
    assert not cache.exists() or not any(cache.rglob("*"))
    assert not (tmp_path / "runs").exists()


def test_options_that_do_not_apply_to_the_protocol_are_usage_errors(no_data, capsys):
    rc = main(["run", "--protocol", "lodo", "--profile", "smoke", "--train", "syn-kadid"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--train does not apply to protocol 'lodo'" in err


def test_misspelt_method_gets_a_suggestion(no_data, capsys):
    assert main(["run", "--method", "csi", "--out", str(no_data / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'cis'?" in err[0]


def test_sweep_launcher_help_and_error_agree(no_data, capsys):
    from bench.commands.sweep import launcher_choices

    names = launcher_choices()
    assert names == "local, slurm, submitit"
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"how runs are executed: {names}" in help_text
    assert main(["sweep", "--launcher", "nosuch", "--out", str(no_data / "r")]) == 2
    assert f"valid choices: {names}" in capsys.readouterr().err


def test_list_shows_methods_protocols_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("cis", "erm", "metaiqa", "lodo", "cross", "finetune", "syn-kadid", "--train-ratio"):
        assert name in out
