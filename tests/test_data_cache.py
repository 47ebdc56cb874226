"""The decoded-image cache checks itself: random bytes written into an array or a
truncated array are found (per-image CRC-32 in the index beside it) and the array is
rebuilt with a one-line notice, giving the same bytes and the same run numbers as a
clean cache; stale arrays and leftovers are cleaned, never one in use."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import cache as cache_mod
from bench.data.cache import FORMAT, decode_image, decoded_array
from bench.data.records import Dataset, Record

N, SIDE = 6, 12


def write_images(root: Path, n: int = N) -> Dataset:
    """``n`` random 16 x 16 PNGs under ``root`` as a Dataset named 'tiny'."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f"{i}.png")
        records.append(Record(image=f"{i}.png", mos=i / n, mos_raw=i / n))
    return Dataset("tiny", root, records, "authentic")


@pytest.fixture()
def ds(tmp_path, monkeypatch):
    """A tiny dataset with BENCH_CACHE in tmp and a fresh 'verified in this process' memo
    (each test acts as a new process unless it says otherwise)."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "_VERIFIED", set())
    return write_images(tmp_path / "release")


def expected(ds: Dataset, size: int = SIDE) -> np.ndarray:
    return np.stack([decode_image(ds.path(r), size) for r in ds.records])


def array_file(tmp_path: Path, size: int = SIDE) -> Path:
    (found,) = (tmp_path / "cache" / "decoded").glob(f"tiny-{size}px-*.u8")
    return found


def reopen(ds: Dataset, size: int = SIDE) -> tuple[np.ndarray, list[str]]:
    """decoded_array as a new process would call it; (array, log lines)."""
    cache_mod._VERIFIED.clear()
    lines: list[str] = []
    return np.array(decoded_array(ds, size, log=lines.append)), lines


def test_clean_array_has_one_checksum_per_image(ds, tmp_path):
    arr, lines = reopen(ds)
    np.testing.assert_array_equal(arr, expected(ds))
    index = json.loads(array_file(tmp_path).with_suffix(".json").read_text())
    assert index["format"] == FORMAT and len(index["row_crc32"]) == N
    assert index["row_crc32"] == cache_mod.row_checksums(arr)
    again, lines = reopen(ds)
    assert lines == [] and np.array_equal(again, arr)  # a sound array is used silently


def test_random_bytes_in_the_array_are_detected_and_rebuilt(ds, tmp_path):
    clean, _ = reopen(ds)
    path = array_file(tmp_path)
    with open(path, "r+b") as fh:
        fh.seek(3 * SIDE * SIDE * 3 + 17)
        fh.write(np.random.default_rng(1).integers(0, 256, 40, dtype=np.uint8).tobytes())
    assert not np.array_equal(np.fromfile(path, np.uint8).reshape(clean.shape), clean)
    arr, lines = reopen(ds)
    np.testing.assert_array_equal(arr, clean)
    notice = [line for line in lines if "damaged" in line]
    assert len(notice) == 1 and "\n" not in notice[0] and "rebuilding" in notice[0]
    assert "1 of 6 images" in notice[0] and "3.png" in notice[0]


@pytest.mark.parametrize("keep", [0, 100, N * SIDE * SIDE * 3 - 1])
def test_a_truncated_array_is_rebuilt_without_a_traceback(ds, tmp_path, keep):
    clean, _ = reopen(ds)
    with open(array_file(tmp_path), "r+b") as fh:
        fh.truncate(keep)
    arr, lines = reopen(ds)
    np.testing.assert_array_equal(arr, clean)
    assert any("truncated" in line and "rebuilding" in line for line in lines)


@pytest.mark.parametrize("index_text", ["{not json", "[]", '{"format": 1}', ""])
def test_a_damaged_or_old_index_rebuilds(ds, tmp_path, index_text):
    clean, _ = reopen(ds)
    array_file(tmp_path).with_suffix(".json").write_text(index_text)
    arr, lines = reopen(ds)
    np.testing.assert_array_equal(arr, clean)
    assert any("rebuilding" in line for line in lines)


def test_an_array_is_verified_once_per_process(ds, monkeypatch):
    reopen(ds)
    calls = []
    real = cache_mod.row_checksums
    monkeypatch.setattr(cache_mod, "row_checksums", lambda a: calls.append(1) or real(a))
    cache_mod._VERIFIED.clear()
    for _ in range(3):
        decoded_array(ds, SIDE, log=lambda m: None)
    assert len(calls) == 1


def test_decoding_prints_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    lines: list[str] = []
    decoded_array(write_images(tmp_path / "r", 3), 8, log=lines.append)
    assert any("decoding tiny: 3/3 images" in line for line in lines)


# --- cleaning -------------------------------------------------------------------------

def plant(folder: Path, stem: str, index: dict | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.u8").write_bytes(b"\0" * 10)
    if index is not None:
        (folder / f"{stem}.json").write_text(json.dumps(index))


def test_stale_arrays_and_leftovers_are_removed_but_not_valid_or_busy_ones(ds, tmp_path):
    decoded = tmp_path / "cache" / "decoded"
    plant(decoded, "tiny-12px-0000old", {"dataset": "tiny", "size": SIDE})        # format 1
    plant(decoded, "tiny-12px-00orphan", None)                                     # no index
    plant(decoded, "tiny-24px-00000024", {"format": FORMAT, "dataset": "tiny", "size": 24,
                                          "root": str(ds.root.resolve())})        # other size
    plant(decoded, "other-12px-0000busy", {"dataset": "other", "size": SIDE})     # old but locked
    (decoded / ".tiny-12px-000000tmp.u8.tmp").write_bytes(b"\0")                  # killed decode
    with open(decoded / ".other-12px-0000busy.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        arr, lines = reopen(ds)
    names = {p.name for p in decoded.iterdir() if not p.name.endswith(".lock")}
    kept = array_file(tmp_path).name
    assert names == {kept, kept.replace(".u8", ".json"), "tiny-24px-00000024.u8", "tiny-24px-00000024.json",
                     "other-12px-0000busy.u8", "other-12px-0000busy.json"}
    assert sum("stale" in line for line in lines) == 1


def test_an_array_of_changed_files_supersedes_the_old_one(ds, tmp_path):
    reopen(ds)
    old = array_file(tmp_path)
    first = ds.path(ds.records[0])
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8)).save(first)
    os.utime(first, (1e9, 1e9))  # another mtime: another key
    arr, _ = reopen(ds)
    assert not old.exists() and not old.with_suffix(".json").exists()
    assert array_file(tmp_path) != old and arr[0].max() == arr[0].min() == 7


# --- the case: a run on a damaged cache gives the clean run's numbers ----------

@pytest.mark.slow
def test_run_on_a_damaged_or_truncated_cache_equals_a_clean_run(tmp_path, monkeypatch):
    from test_run import NAME, load_release, write_release  # the tiny release of the run tests

    from bench.cli import main
    from bench.data.registry import DATASETS, DatasetSpec, dataset_names

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    dataset_names()
    monkeypatch.setitem(DATASETS, NAME, DatasetSpec(NAME, load_release, kind="synthetic", synthetic=False))
    monkeypatch.setattr(cache_mod, "_VERIFIED", set())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    release = write_release(tmp_path / "release")

    def run(out: str) -> str:
        assert main(["run", "--protocol", "lodo", "--method", "erm", "--profile", "smoke",
                     "--dataset", NAME, "--folds", "A", "--seed", "3", "--device", "cpu",
                     "--set", f"data.{NAME}={release}", "--out", str(tmp_path / out), "--quiet"]) == 0
        (pred,) = (tmp_path / out).glob("*/predictions.csv")
        return pred.read_text()

    try:
        clean = run("clean")
        (path,) = (tmp_path / "cache" / "decoded").glob(f"{NAME}-*.u8")
        size = path.stat().st_size
        with open(path, "r+b") as fh:  # random bytes over a tenth of the array
            fh.seek(size // 3)
            fh.write(np.random.default_rng(0).integers(0, 256, size // 10, dtype=np.uint8).tobytes())
        cache_mod._VERIFIED.clear()
        assert run("damaged") == clean
        (path,) = (tmp_path / "cache" / "decoded").glob(f"{NAME}-*.u8")
        with open(path, "r+b") as fh:  # and cut short
            fh.truncate(size // 2)
        cache_mod._VERIFIED.clear()
        assert run("truncated") == clean
    finally:
        torch.set_num_threads(threads)
