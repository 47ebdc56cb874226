"""Environment checks made before any data is touched or any training starts, so that a
fault costs a one-line error (exit 1) instead of a traceback hours later: an output path
that is a file or not writable, an unusable cache folder, too little free disk space.

Writability is tested by ``os.access`` and then by creating and removing one empty probe
file *inside the folder checked* (a folder the program owns: ``--runs``, the cache), since
``os.access`` says yes to root on a folder a read-only mount refuses.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import BenchError

MIB = 1 << 20
#: Parameters (millions) of each backbone with its largest head, for the size estimate.
BACKBONE_MPARAMS = {"smallcnn": 0.2, "resnet18": 14.0, "resnet34": 24.0, "resnet50": 28.0}
#: Per-fold allowance for config.json, metrics.json, predictions.csv and temp files.
FOLD_OVERHEAD = 2 * MIB


def writable_dir(path: Path | str, what: str) -> Path:
    """``path`` as a folder this process can write into (created when missing); BenchError
    naming ``what`` and the folder when it is a file, cannot be created, or is read-only."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise BenchError(f"{what} {path} is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"{what} {path} cannot be created ({exc.strerror or exc}); give a "
                         "writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BenchError(f"{what} {path} is not writable; give a writable folder")
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BenchError(f"{what} {path} is not writable ({exc.strerror or exc}); give a "
                         "writable folder") from None
    return path


def writable_file(path: Path | str, what: str) -> Path:
    """``path`` as a file that can be written: not a folder, its parent a writable folder;
    BenchError naming ``what`` otherwise."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise BenchError(f"{what} {path} is a folder; give a file path")
    writable_dir(path.parent if str(path.parent) else Path("."), f"the folder of {what}")
    return path


def cache_dir() -> Path:
    """The data cache (``$BENCH_CACHE`` or the user cache folder), checked writable."""
    from ..data.paths import cache_root

    try:
        root = cache_root()
    except OSError as exc:
        where = os.environ.get("BENCH_CACHE") or "the cache folder"
        raise BenchError(f"cache {where} cannot be used ({exc.strerror or exc}); set "
                         "BENCH_CACHE to a writable folder") from None
    try:
        return writable_dir(root, "cache (BENCH_CACHE)")
    except BenchError as exc:
        raise BenchError(f"{exc}; set BENCH_CACHE to a writable folder") from None


def estimate_run_bytes(cfg: dict, folds: int) -> int:
    """Bytes a run of ``folds`` folds writes under ``--runs``: per fold a model.pt (float32
    parameters, when ``save_model``) and small files; plus one training checkpoint (the
    parameters and two Adam moments) alive at a time when ``train.checkpoint`` is on. An
    estimate from the backbone's parameter count, erring high."""
    params = BACKBONE_MPARAMS.get(str(cfg.get("model", {}).get("backbone")), 30.0) * 1e6
    model = int(4 * params)
    per_fold = FOLD_OVERHEAD + (model if cfg.get("save_model", True) else 0)
    checkpoint = 3 * model if cfg.get("train", {}).get("checkpoint") else 0
    return folds * per_fold + checkpoint


def free_space(path: Path | str, needed: int, what: str) -> None:
    """BenchError when the file system of ``path`` has less than ``needed`` bytes free."""
    free = shutil.disk_usage(Path(path)).free
    if free < needed:
        raise BenchError(f"{what} {path} has {free / MIB:.0f} MiB free, the run needs about "
                         f"{needed / MIB:.0f} MiB; free some space or choose another folder")
