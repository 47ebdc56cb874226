"""Tests of the launchers: a local sweep killed part-way and restarted ends with the
records of an uninterrupted sweep; a sweep through submitit's local executor; failures
and Ctrl-C of the local launcher (with stand-in units that need no training)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_sweep import REPO, tiny_options, write_tiny_kadid

from bench.cli import main as cli_main
from bench.app.launchers.local import LocalLauncher

#: Run options of the small sweep: 1 method x 1 seed x the tiny set's 3 folds = 3 units.
SMALL = ["--method", "erm", "--seed", "0"]


@pytest.fixture(scope="module")
def tiny_kadid(tmp_path_factory) -> Path:
    """The tiny KADID-10k release of test_sweep.py."""
    return write_tiny_kadid(tmp_path_factory.mktemp("tiny-kadid"))


@pytest.fixture
def env(tmp_path_factory, monkeypatch) -> dict:
    """A BENCH_CACHE set here (submitit jobs inherit it) and the children's environment."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "launcher-cache"))
    return dict(os.environ)


def sweep_cmd(kadid: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench", "sweep", *tiny_options(kadid), *SMALL,
            "--out", str(out), *extra]


def records(out: Path) -> dict:
    """Run folder name -> (metrics.json less timing fields, predictions.csv text)."""
    recs = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics = {k: v for k, v in metrics.items() if not k.endswith("seconds")}
        recs[folder.name] = (metrics, (folder / "predictions.csv").read_text())
    return recs


def children(pid: int) -> list[int]:
    """Pids of the live child processes of ``pid`` (from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(stat.parent.name))
    return kids


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_killed_sweep_restarted_equals_uninterrupted(tiny_kadid, env, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    done = subprocess.run(sweep_cmd(tiny_kadid, ref, "--jobs", "2"), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "3 runs, 3 done, 0 to do" in done.stdout

    errors = tmp_path / "interrupted.err"
    with errors.open("w") as log:
        proc = subprocess.Popen(sweep_cmd(tiny_kadid, out, "--jobs", "2"), cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=log, text=True,
                                start_new_session=True)
    try:
        # once a worker has claimed a run folder: SIGKILL the workers, then Ctrl-C the sweep
        wait_for(lambda: out.is_dir() and any(out.iterdir()), 90, "a run folder")
        for pid in wait_for(lambda: children(proc.pid), 30, "the workers"):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "killed by signal SIGKILL" in errors.read_text(), 30, "the report")
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = errors.read_text()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in stdout
    finished = [f for f in out.iterdir() if (f / "done").exists()]
    assert len(finished) < 3  # it really stopped part-way
    assert list((out / ".sweep-logs").glob("*.log"))  # the killed units' logs are kept
    assert not processes_mentioning(str(out))  # no worker outlives the sweep

    again = subprocess.run(sweep_cmd(tiny_kadid, out, "--jobs", "2"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert f"3 runs, {len(finished)} done, {3 - len(finished)} to do" in again.stdout
    assert records(out) == records(ref)
    assert all((f / "done").is_file() for f in out.iterdir())  # and no log folder left
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_sweep_through_submitit_local_executor(tiny_kadid, env, tmp_path, capsys):
    out, jobs = tmp_path / "runs", tmp_path / "submitit"
    argv = ["sweep", *tiny_options(tiny_kadid), "--method", "erm", "--seed", "0",
            "--folds", "GB,LB", "--out", str(out), "--launcher", "submitit",
            "--submitit-cluster", "local", "--submitit-folder", str(jobs), "--time", "5"]
    assert cli_main(argv) == 0
    captured = capsys.readouterr()
    assert "submitted 2 job(s) to submitit's local executor" in captured.err
    folders = sorted(out.iterdir())
    assert len(folders) == 2 and all((f / "done").is_file() for f in folders)
    assert {json.loads((f / "metrics.json").read_text())["fold"] for f in folders} == {"GB", "LB"}
    assert len(list(jobs.rglob("*_result.pkl"))) == 2  # one submitit job per unit
    assert cli_main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out


@dataclass(frozen=True)
class FakeUnit:
    """A stand-in unit whose command is a short Python program (no training)."""

    name: str
    folder: Path
    code: str

    def command(self, python=None):
        return [sys.executable, "-c", self.code]


def fake(tmp_path: Path, name: str, code: str) -> FakeUnit:
    folder = tmp_path / name
    return FakeUnit(name, folder, f"import pathlib, sys, time\nf = pathlib.Path({str(folder)!r})\n"
                                  f"f.mkdir(parents=True, exist_ok=True)\n{code}")


# A unit that finishes its folder as a run does: a valid record through bench.core.record.
FINISH = ("from bench.core.record import RunFolder, RunRecord\n"
          "m = {'srocc': 0.5, 'plcc': 0.5, 'krcc': 0.4, 'plcc_logistic': 0.5, 'n': 1}\n"
          "rec = RunRecord('lodo', 1, f.name, 'erm', 'ERM', 'd', 0, 'smoke', 'smallcnn', {'d': m})\n"
          "RunFolder(f).begin({}); RunFolder(f).finish(rec, [{'target': 'd', 'image': 'x', "
          "'mos': 0.5, 'prediction': 0.5}])")


def test_local_failure_is_reported_and_the_others_go_on(tmp_path):
    ok = FINISH
    units = [fake(tmp_path, "boom", "print('something broke here'); sys.exit(3)"),
             fake(tmp_path, "a", ok), fake(tmp_path, "b", ok)]
    lines: list[str] = []
    report = LocalLauncher(argparse.Namespace(jobs=2)).launch(units, lines.append)
    status = {r.unit.name: r for r in report.results}
    assert {n: r.status for n, r in status.items()} == {"boom": "failed", "a": "done", "b": "done"}
    assert "exit status 3" in status["boom"].detail
    assert status["boom"].tail.splitlines()[-1] == "something broke here"
    assert any("FAILED boom" in line and "exit status 3" in line for line in lines)


def test_local_sigint_stops_children_and_starts_no_more(tmp_path):
    slow = "time.sleep(60)"
    units = [fake(tmp_path, f"u{k}", slow) for k in range(4)]
    launcher = LocalLauncher(argparse.Namespace(jobs=2))
    # the signal goes out once both children run (the launcher's handler is installed)
    sender = threading.Thread(target=lambda: (
        wait_for(lambda: all(u.folder.exists() for u in units[:2]), 30, "two children"),
        os.kill(os.getpid(), signal.SIGINT)))
    sender.start()
    t0 = time.monotonic()
    report = launcher.launch(units, lambda m: None)
    sender.join()
    assert time.monotonic() - t0 < 20
    assert report.interrupted == signal.SIGINT
    assert sorted(r.unit.name for r in report.results if r.status == "stopped") == ["u0", "u1"]
    assert not units[2].folder.exists() and not units[3].folder.exists()
    assert not children(os.getpid())


def test_local_gives_each_slot_its_own_gpu(tmp_path, monkeypatch):
    from bench.app.launchers import local

    monkeypatch.setattr(local, "visible_gpus", lambda: ["3", "5"])
    monkeypatch.setattr(local, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # each unit records its GPU and threads, and stays up until its partner has started
    code = ("import os\n(f / 'env').write_text(os.environ['CUDA_VISIBLE_DEVICES'] + ' ' + "
            "os.environ['OMP_NUM_THREADS'])\n"
            "while len(list(f.parent.glob('*/env'))) < 2: time.sleep(0.01)\n"
            + FINISH)
    units = [fake(tmp_path, f"u{k}", code) for k in range(2)]
    report = LocalLauncher(argparse.Namespace(jobs=None)).launch(units, lambda m: None)
    assert [r.status for r in report.results] == ["done", "done"]  # jobs defaulted to 2 GPUs
    assert sorted((u.folder / "env").read_text() for u in units) == ["3 4", "5 4"]
