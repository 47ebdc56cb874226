"""Paths the data layer writes or deletes stay inside the cache: a config value that
tries to lead out (the issue's ``data.synthetic_seed="0/../../../victim"``, a dataset
name with '../', a planted symlink) is refused with one line and nothing outside is
touched; leftovers of interrupted generations are removed only while nobody works on them.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data import cache as cache_mod
from bench.data.cleanup import remove_owned, sweep_suite_leftovers, try_lock
from bench.data.paths import check_seed, owned_path
from bench.data.records import Dataset, Record
from bench.data.synthetic import suite
from bench.core.errors import BenchError, UsageError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def victim(tmp_path, monkeypatch):
    """A folder beside the cache (tmp/a/b/victim, cache tmp/a/b/cache) with a file in it."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "a" / "b" / "cache"))
    folder = tmp_path / "a" / "b" / "victim"
    folder.mkdir(parents=True)
    (folder / "precious.txt").write_text("keep me")
    return folder


def test_owned_path_keeps_paths_inside_and_refuses_escapes(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    assert owned_path(root, "synthetic", "v1-seed0") == (root / "synthetic" / "v1-seed0").resolve()
    for parts in [("..", "victim"), ("synthetic", "v1-seed0/../../../victim"), ("/etc",), (".",), ("x", "..")]:
        with pytest.raises(BenchError) as info:
            owned_path(root, *parts)
        assert "\n" not in str(info.value) and "outside" in str(info.value)


def test_owned_path_follows_symlinks_before_judging(tmp_path):
    root, outside = tmp_path / "cache", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "decoded").symlink_to(outside)
    with pytest.raises(BenchError):
        owned_path(root, "decoded", "x.u8")


@pytest.mark.parametrize("seed", ["0/../../../victim", "0", -1, 1.5, True, None, "../x"])
def test_suite_seed_must_be_a_non_negative_int(seed, victim):
    with pytest.raises(UsageError) as info:
        suite.ensure_suite(seed)
    assert "data.synthetic_seed" in str(info.value) and "\n" not in str(info.value)
    assert (victim / "precious.txt").read_text() == "keep me"


def test_check_seed_accepts_numpy_ints():
    assert check_seed(np.int64(3)) == 3 and check_seed(0) == 0


@pytest.mark.slow
def test_issue_command_does_not_delete_a_folder_outside_the_cache(tmp_path, victim):
    """The issue's reproduction, as written, on a tmp cache: the victim survives and the
    error is one line (exit 1 or 2, no traceback)."""
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "a" / "b" / "cache"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--profile", "smoke", "--method", "erm", "--folds", "GB",
         "--out", str(tmp_path / "o"), "--set", 'data.synthetic_seed="0/../../../victim"'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (1, 2), proc.stderr
    assert (victim / "precious.txt").read_text() == "keep me"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    # the error is the last line and the only one (today's run also prints its config first)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("bench: error:") and "synthetic_seed" in last
    assert proc.stderr.count("error") == 1


def test_decoded_array_refuses_a_dataset_name_that_leads_out(victim, tmp_path):
    img = tmp_path / "img.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    ds = Dataset("../../victim/x", tmp_path, [Record(image="img.png", mos=0.5, mos_raw=0.5)], "authentic")
    with pytest.raises(BenchError):
        cache_mod.decoded_array(ds, 8, log=lambda m: None)
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]


def test_remove_owned_removes_a_planted_link_not_its_target(tmp_path, victim):
    root = tmp_path / "a" / "b" / "cache" / "synthetic"
    root.mkdir(parents=True)
    (root / ".v1-seed3.tmp").symlink_to(victim)
    assert remove_owned(root, ".v1-seed3.tmp")
    assert not (root / ".v1-seed3.tmp").exists() and (victim / "precious.txt").exists()
    with pytest.raises(BenchError):
        remove_owned(root, "..", "..", "victim")
    assert (victim / "precious.txt").exists()


def test_interrupted_generation_leftovers_are_swept_unless_locked(tmp_path):
    synthetic = tmp_path / "synthetic"
    for seed in (1, 2):
        (synthetic / f".v1-seed{seed}.tmp" / "syn-kadid").mkdir(parents=True)
        (synthetic / f".v1-seed{seed}.tmp" / "syn-kadid" / "a.png").write_bytes(b"x")
    (synthetic / "v1-seed0").mkdir()  # a finished suite: never a leftover
    lines = []
    with open(synthetic / ".v1-seed2.lock", "a+") as held:  # seed 2 is being generated
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        removed = sweep_suite_leftovers(synthetic, lines.append)
    assert removed == [".v1-seed1.tmp"] and len(lines) == 1
    assert not (synthetic / ".v1-seed1.tmp").exists()
    assert (synthetic / ".v1-seed2.tmp" / "syn-kadid" / "a.png").exists()
    assert (synthetic / "v1-seed0").is_dir()


def test_ensure_suite_sweeps_leftovers_on_next_use(victim, monkeypatch):
    synthetic = suite.suite_dir(4).parent
    (synthetic / ".v1-seed9.tmp").mkdir(parents=True)
    monkeypatch.setattr(suite, "_manifest_matches", lambda folder, seed: True)
    assert suite.ensure_suite(4, log=lambda m: None) == suite.suite_dir(4)
    assert not (synthetic / ".v1-seed9.tmp").exists()


def test_try_lock_reports_a_held_lock(tmp_path):
    with try_lock(tmp_path / ".x.lock") as first:
        assert first
        with try_lock(tmp_path / ".x.lock") as second:
            assert not second
    with try_lock(tmp_path / ".x.lock") as again:
        assert again
