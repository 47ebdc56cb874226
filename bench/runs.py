"""Run folders: one per (resolved config, fold), named by the config hash.

A folder holds ``config.json``, ``predictions.csv``, ``metrics.json`` and, written last,
``done``; each file is written atomically. A folder without ``done`` is unfinished and is
redone from scratch. A worker holds ``.lock`` while it runs a folder, so two workers never
write the same one.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import re
from pathlib import Path
from typing import Iterator, Optional

from .data.atomic import write_text_atomic

DONE = "done"


def folder_name(cfg: dict, run_hash: str) -> str:
    """Readable prefix (protocol-method-dataset-fold) plus the hash that identifies the run."""
    p = cfg["protocol"]
    data = p.get("dataset") or "+".join(p.get("train", []))
    parts = [p["name"], cfg["method"], data, str(cfg.get("fold", ""))]
    if p.get("split") is not None:
        parts.append(f"split{p['split']}")
    prefix = "-".join(re.sub(r"[^A-Za-z0-9+._]", "_", x) for x in parts if x)
    return f"{prefix}-{run_hash}"


def is_done(folder: Path) -> bool:
    """True when the run in ``folder`` finished (its done marker exists)."""
    return (Path(folder) / DONE).is_file()


@contextlib.contextmanager
def claim(folder: Path) -> Iterator[bool]:
    """Try to take the folder's lock without waiting; yields True if this worker holds it
    (the folder may then be (re)written), False if another worker is running it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def reset_unfinished(folder: Path) -> None:
    """Remove the result files of an unfinished run (never touches a done run)."""
    if is_done(folder):
        raise RuntimeError(f"refusing to reset finished run {folder}")
    for name in ("metrics.json", "predictions.csv", "config.json", "model.pt"):
        (Path(folder) / name).unlink(missing_ok=True)
    for tmp in Path(folder).glob(".*.tmp"):  # left by a writer killed mid-write
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    """Pretty JSON, written atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_predictions(path: Path, rows: list[dict]) -> None:
    """predictions.csv with columns target, image, mos, prediction; atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["target", "image", "mos", "prediction"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"target": r["target"], "image": r["image"], "mos": f"{r['mos']:.6f}",
                    "prediction": f"{r['prediction']:.6f}"})
    write_text_atomic(path, buf.getvalue())


def mark_done(folder: Path) -> None:
    """Write the done marker (last step of a run)."""
    write_text_atomic(Path(folder) / DONE, "")


def read_metrics(folder: Path) -> Optional[dict]:
    """metrics.json of a finished run, or None when the run is not done."""
    if not is_done(folder):
        return None
    return json.loads((Path(folder) / "metrics.json").read_text())


def finished_runs(out_dir: Path) -> Iterator[Path]:
    """Folders under ``out_dir`` (any depth) holding a done marker."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    for marker in sorted(out_dir.rglob(DONE)):
        if marker.is_file() and (marker.parent / "metrics.json").is_file():
            yield marker.parent
