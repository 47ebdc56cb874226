"""Environment faults are one-line errors, exit 1, before any data is touched or any
training starts: --out a file, read-only --out or cache, too little free disk space,
`score --template DIR`, `explain --out FILE`. We run as root, so read-only folders are
simulated honestly at the checks' own system calls (os.access / the probe file /
shutil.disk_usage), and a file in the way stands for an unusable path."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import bench.engine.fold
import bench.engine.session
import bench.app.environment as env
from bench.cli import main
from bench.core.errors import BenchError
from tests.no_data import forbid_data


@pytest.fixture()
def no_data(monkeypatch, tmp_path):
    """BENCH_CACHE in tmp; loading any data fails the test (faults come first)."""
    forbid_data(monkeypatch, tmp_path, 'the environment was checked', 'load_plan', 'prepare')
    return tmp_path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_out_is_a_file(no_data, capsys):
    (no_data / "afile").write_text("x")
    assert main(["run", "--profile", "smoke", "--runs", str(no_data / "afile")]) == 1
    line = _one_line(capsys)
    assert "--runs" in line and "afile is a file" in line


def test_out_under_a_file_cannot_be_created(no_data, capsys):
    (no_data / "afile").write_text("x")
    assert main(["run", "--profile", "smoke", "--runs", str(no_data / "afile" / "runs")]) == 1
    assert "cannot be created" in _one_line(capsys)


def test_read_only_out(no_data, monkeypatch, capsys):
    out = no_data / "ro"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == out else real(p, m))
    assert main(["run", "--profile", "smoke", "--runs", str(out)]) == 1
    line = _one_line(capsys)
    assert "--runs" in line and "not writable" in line


def test_read_only_mount_caught_by_the_probe(tmp_path, monkeypatch):
    """os.access says yes (root), the file system refuses the write: the probe sees it."""
    def refuse(*a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(env.tempfile, "mkstemp", refuse)
    with pytest.raises(BenchError, match="not writable .Read-only file system"):
        env.writable_dir(tmp_path, "--out")


def test_cache_is_a_file(no_data, monkeypatch, capsys):
    (no_data / "cachefile").write_text("x")
    monkeypatch.setenv("BENCH_CACHE", str(no_data / "cachefile"))
    assert main(["run", "--profile", "smoke", "--runs", str(no_data / "runs")]) == 1
    line = _one_line(capsys)
    assert "cache" in line and "BENCH_CACHE" in line


def test_read_only_cache(no_data, monkeypatch, capsys):
    cache = no_data / "cache"
    cache.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == cache else real(p, m))
    assert main(["run", "--profile", "smoke", "--runs", str(no_data / "runs")]) == 1
    line = _one_line(capsys)
    assert "cache" in line and "not writable" in line and "BENCH_CACHE" in line


def test_full_disk_is_found_before_training(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(env.shutil, "disk_usage", lambda p: usage._replace(free=10 << 20))
    cfg = {"model": {"backbone": "resnet50"}, "save_model": True, "train": {"checkpoint": True}}
    need = env.estimate_run_bytes(cfg, 25)
    assert need > 25 * 4 * 25e6                     # 25 model.pt files of ~100 MB at least
    with pytest.raises(BenchError, match=r"has 10 MiB free, the run needs about \d+ MiB"):
        env.free_space(tmp_path, need, "--out")
    small = {"model": {"backbone": "smallcnn"}, "save_model": False}
    env.free_space(tmp_path, env.estimate_run_bytes(small, 1), "--out")     # 2 MiB fits


def test_run_checks_free_space_before_training(no_data, monkeypatch, capsys):
    """The run stops after planning, before the first fold trains."""
    from types import SimpleNamespace

    from bench.engine.protocol import Fold

    session = SimpleNamespace(folds=[Fold("GB", [])], protocol=None)
    monkeypatch.setattr(bench.engine.session, "prepare", lambda cfg, log: session)
    monkeypatch.setattr(bench.engine.fold, "run_fold", lambda *a, **k: pytest.fail("trained"))
    usage = shutil.disk_usage(no_data)
    monkeypatch.setattr(env.shutil, "disk_usage", lambda p: usage._replace(free=0))
    assert main(["run", "--profile", "smoke", "--quiet", "--out", str(no_data / "runs")]) == 1
    line = _one_line(capsys)
    assert "--runs" in line and "0 MiB free" in line


def test_explain_out_is_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["explain", str(tmp_path / "norun"), "img.png", "--out", str(tmp_path / "afile")]) == 1
    line = _one_line(capsys)
    assert "--out" in line and "is a file" in line
