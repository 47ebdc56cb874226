"""The run record: the schema of ``metrics.json`` and the one writer and reader of run folders.

Every folder the harness writes a result into (a trained fold, a pretrained model artifact,
a scored submission) goes through :class:`RunFolder`: claim its lock, :meth:`RunFolder.begin`
(remove an unfinished run's files, write ``config.json``), then :meth:`RunFolder.finish`
(``model.pt``, ``predictions.csv``, ``metrics.json``, and ``done`` last, each atomic).
Readers get a validated :class:`RunRecord` from :meth:`RunFolder.read`, or a
:class:`BadRunFolder` naming the folder and what is wrong with it; they read only regular
files inside the folder, under a size cap (:mod:`bench.core.run_files`).

``metrics.json`` is flat JSON: the header fields, ``schema_version``, ``kind``, ``targets``
(target -> metrics), the first target's metrics repeated at the top level (what older
readers and quick ``jq`` queries use), and every other fact under its own key.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterator, Optional

from .atomic import try_lock, write_bytes_atomic, write_text_atomic
from .display_text import clean
from .errors import BenchError
from .run_files import find_done, is_regular, read_capped

SCHEMA_VERSION = 2
DONE = "done"
KINDS = ("run", "model", "submission")
TARGET_KEYS = ("srocc", "plcc", "krcc", "plcc_logistic", "n")
PREDICTION_COLUMNS = ("target", "image", "mos", "prediction")
RESULT_FILES = ("metrics.json", "predictions.csv", "config.json", "model.pt", DONE)


class BadRunFolder(BenchError):
    """A run folder whose files are missing, unparseable or off-schema; names the folder."""

    def __init__(self, folder: Path, reason: str):
        self.folder, self.reason = Path(folder), reason
        super().__init__(f"{folder}: {reason}")

    def __reduce__(self):
        # copyable and picklable (pandas deep-copies DataFrame.attrs holding these)
        return (type(self), (self.folder, self.reason))


@dataclass
class RunRecord:
    """What one finished run measured, and under what.

    targets: test-set label -> {'srocc', 'plcc', 'krcc', 'plcc_logistic' (floats, NaN when
        undefined), 'n' (int, images scored), and any further metric}; empty for a model
        artifact (``kind='model'``), which is trained but not tested.
    facts: every other recorded value (training facts, budgets, versions, fold info); keys
        must not collide with the header fields.
    """

    protocol: str
    protocol_version: int
    fold: str
    method: str
    method_display: str
    dataset: str
    seed: int
    profile: str
    backbone: str
    targets: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    kind: str = "run"
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict:
        """The flat ``metrics.json`` object."""
        header = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "facts"}
        clash = sorted(set(self.facts) & set(header))
        if clash:
            raise ValueError(f"run facts may not override record fields: {clash}")
        first = next(iter(self.targets.values()), {})
        return {**first, **self.facts, **header}

    @classmethod
    def from_json(cls, obj: dict, folder: Path | str = "?") -> "RunRecord":
        """Validate a parsed ``metrics.json``; BadRunFolder naming ``folder`` when it is not
        a record of this schema."""
        if not isinstance(obj, dict):
            raise BadRunFolder(folder, "metrics.json is not a JSON object")
        version = obj.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise BadRunFolder(folder, f"metrics.json has schema_version {version}, newer than the "
                                       f"{SCHEMA_VERSION} this harness reads: it was written by a "
                                       "newer iqa-bench; upgrade the harness to read it")
        if version != SCHEMA_VERSION:
            raise BadRunFolder(folder, f"metrics.json has schema_version {clean(repr(version), 40)}, "
                                       f"this harness reads {SCHEMA_VERSION}; rerun it to rewrite "
                                       "the folder")
        names = [f.name for f in fields(cls) if f.name != "facts"]
        missing = [n for n in names if n not in obj]
        if missing:
            raise BadRunFolder(folder, f"metrics.json lacks {', '.join(missing)}")
        rec = cls(**{n: obj[n] for n in names},
                  facts={k: v for k, v in obj.items() if k not in names and k not in TARGET_KEYS})
        rec.validate(folder)
        return rec

    def validate(self, folder: Path | str = "?") -> None:
        """BadRunFolder unless kind, header types and every target's metrics are sound."""
        if self.kind not in KINDS:
            raise BadRunFolder(folder, f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for name in ("protocol", "fold", "method", "method_display", "dataset", "profile", "backbone"):
            if not isinstance(getattr(self, name), str):
                raise BadRunFolder(folder, f"{name} must be a string")
        for name in ("protocol_version", "seed"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise BadRunFolder(folder, f"{name} must be an integer")
        if not isinstance(self.targets, dict) or (self.kind != "model" and not self.targets):
            raise BadRunFolder(folder, "metrics.json has no test targets")
        for target, m in self.targets.items():
            bad = [k for k in TARGET_KEYS if not isinstance(m, dict) or k not in m
                   or not isinstance(m[k], (int, float)) or isinstance(m[k], bool)]
            if bad:
                raise BadRunFolder(folder, f"target {target!r} lacks numeric {', '.join(bad)}")
            if m["n"] < 0 or not float(m["n"]).is_integer():
                raise BadRunFolder(folder, f"target {target!r} has n = {m['n']}")
            for k in TARGET_KEYS[:-1]:
                if not (math.isnan(m[k]) or -1.0 - 1e-9 <= m[k] <= 1.0 + 1e-9):
                    raise BadRunFolder(folder, f"target {target!r}: {k} = {m[k]} is outside [-1, 1]")


def _json_bytes(obj) -> bytes:
    # allow_nan: metrics are NaN where undefined (constant predictions); Python reads them back
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def predictions_csv(rows: list[dict]) -> str:
    """predictions.csv text: columns target, image, mos, prediction (6 decimals)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(PREDICTION_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"target": r["target"], "image": r["image"], "mos": f"{r['mos']:.6f}",
                    "prediction": f"{r['prediction']:.6f}"})
    return buf.getvalue()


class RunFolder:
    """One run folder on disk (see the module docstring for its life cycle)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def is_done(self) -> bool:
        """True when the run finished (its done marker exists); says nothing of validity."""
        return (self.path / DONE).is_file()

    @contextlib.contextmanager
    def claim(self) -> Iterator[bool]:
        """Try the folder's lock without waiting: yields True when this process holds it
        (the folder may then be (re)written), False while another worker runs it."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise BenchError(f"{self.path} (or a folder above it) is a file in the way of a run "
                             "folder; move it away or choose another --out") from None
        with try_lock(self.path / ".lock") as mine:
            yield mine

    def begin(self, config: dict) -> None:
        """Start (or restart) the run: remove every result file, including a ``done`` that
        failed validation, and stray temp files of a writer killed mid-write; then write
        ``config.json``. Call while holding :meth:`claim`."""
        for name in RESULT_FILES:
            (self.path / name).unlink(missing_ok=True)
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        write_bytes_atomic(self.path / "config.json", _json_bytes(config))

    def finish(self, record: RunRecord, predictions: Optional[list[dict]] = None,
               model_state: Optional[dict] = None) -> None:
        """Write the results, ``done`` last: ``model.pt`` (a state dict of CPU tensors,
        loadable with ``torch.load(weights_only=True)``) when given, ``predictions.csv``
        (required unless ``record.kind == 'model'``), ``metrics.json``."""
        record.validate(self.path)
        if record.kind != "model" and predictions is None:
            raise ValueError("a run record with test targets needs its predictions")
        if model_state is not None:
            import torch

            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in model_state.items()}, buf)
            write_bytes_atomic(self.path / "model.pt", buf.getvalue())
        if predictions is not None:
            write_text_atomic(self.path / "predictions.csv", predictions_csv(predictions))
        write_bytes_atomic(self.path / "metrics.json", _json_bytes(record.to_json()))
        write_text_atomic(self.path / DONE, "")

    def is_finished(self) -> bool:
        """True when the run is done *and* its record validates (a ``done`` folder with a
        truncated metrics.json or no predictions.csv is not finished: it is redone)."""
        try:
            self.read()
        except BadRunFolder:
            return False
        return True

    def read(self) -> RunRecord:
        """The validated record of a finished run; BadRunFolder naming what is wrong (not
        done, metrics.json missing or unparseable or off-schema, predictions missing)."""
        rec, _ = self.read_with_config()
        return rec

    def read_with_config(self) -> tuple[RunRecord, dict]:
        """:meth:`read`'s record and the run's ``config.json``, each file read once."""
        if not self.is_done():
            raise BadRunFolder(self.path, "not finished (no done marker)")
        try:
            obj = json.loads(read_capped(self.path / "metrics.json").decode("utf-8"))
        except FileNotFoundError:
            raise BadRunFolder(self.path, "has a done marker but no metrics.json") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadRunFolder(self.path, f"metrics.json is unreadable ({_first_line(exc)})") from None
        rec = RunRecord.from_json(obj, self.path)
        config = self.read_config()   # readers need it too: a run they would skip is not done
        pred = self.path / "predictions.csv"
        if rec.kind != "model" and not is_regular(pred):
            raise BadRunFolder(self.path, "predictions.csv is a symbolic link, not read"
                               if pred.is_symlink() else "predictions.csv is not a regular file"
                               if pred.exists() else "has a done marker but no predictions.csv")
        return rec, config

    def read_config(self) -> dict:
        """The run's ``config.json``; BadRunFolder when missing or unparseable."""
        try:
            obj = json.loads(read_capped(self.path / "config.json").decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadRunFolder(self.path, f"config.json is unreadable ({_first_line(exc)})") from None
        if not isinstance(obj, dict):
            raise BadRunFolder(self.path, "config.json is not a JSON object")
        return obj


def folder_name(cfg: dict, run_hash: str) -> str:
    """Readable prefix (protocol-method-dataset-fold[-splitK]) plus the hash that identifies
    the run; every character outside [A-Za-z0-9+._] becomes '_' (no path separators)."""
    p = cfg["protocol"]
    data = p.get("dataset") or "+".join(p.get("train", []))
    parts = [p["name"], cfg["method"], data, str(cfg.get("fold", ""))]
    if p.get("split") is not None:
        parts.append(f"split{p['split']}")
    prefix = "-".join(re.sub(r"[^A-Za-z0-9+._]", "_", x) for x in parts if x)
    return f"{prefix}-{run_hash}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return clean(text.splitlines()[0] if text else type(exc).__name__, 300)


def done_folders(out_dir: Path | str) -> tuple[list[RunFolder], list[BadRunFolder]]:
    """(folders under ``out_dir``, any depth, holding a done marker, sorted by path; a
    BadRunFolder for each symbolic link to a folder and each marker that is not a regular
    file, none of them followed: see :func:`bench.core.run_files.find_done`)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return [], []
    found, refused = find_done(out_dir, DONE)
    return [RunFolder(f) for f in found], [BadRunFolder(p, why) for p, why in refused]


def read_records(out_dir: Path | str, kinds: tuple[str, ...] = ("run", "submission")
                 ) -> tuple[list[tuple[RunFolder, RunRecord, dict]], list[BadRunFolder]]:
    """Every valid finished record of the given kinds under ``out_dir`` with its
    ``config.json``, and the folders that failed validation or were not followed (for the
    caller to name and count, never to drop silently)."""
    folders, bad = done_folders(out_dir)
    good = []
    for folder in folders:
        try:
            rec, config = folder.read_with_config()
        except BadRunFolder as exc:
            bad.append(exc)
            continue
        if rec.kind in kinds:
            good.append((folder, rec, config))
    return good, bad


def skipped_notice(bad: list[BadRunFolder], shown: int = 3) -> Optional[str]:
    """One line naming the bad folders ('2 run folders skipped: A (why); B (why)'), or None;
    names and reasons sanitised for the terminal (bench.core.display_text)."""
    if not bad:
        return None
    head = "; ".join(f"{clean(b.folder, 200)} ({clean(b.reason, 400)})" for b in bad[:shown])
    more = f"; ... ({len(bad)} in all)" if len(bad) > shown else ""
    noun = "run folder" if len(bad) == 1 else "run folders"
    return f"{len(bad)} {noun} skipped: {head}{more}"
