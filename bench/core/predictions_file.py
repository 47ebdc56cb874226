"""Reading a run folder's ``predictions.csv`` (columns target, image, mos, prediction, one
row per scored test image): the one parser every reader uses (record checks, bootstrap
intervals, scatter plots, paired comparisons), through :func:`bench.core.run_files.read_capped`.

A header naming a column twice is an error (a CSV reader would silently keep one of the
two), as is a row with the wrong number of fields or a score that is not a number.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .run_files import read_capped

COLUMNS = ("target", "image", "mos", "prediction")


class BadPredictions(ValueError):
    """A predictions file that cannot be read as one; ``str()`` says why in one line."""


@dataclass(frozen=True)
class Scored:
    """One target's rows of a predictions file, in file order: image names, MOS and
    predictions (float arrays of the same length, as written: 6 decimals)."""

    images: tuple[str, ...]
    mos: np.ndarray
    pred: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def header_problem(header: list[str], required=COLUMNS) -> str:
    """Why ``header`` is not a predictions header ('' when it is): a repeated column, or a
    required one missing."""
    names = [h.strip() for h in header]
    repeated = sorted({h for h in names if names.count(h) > 1})
    if repeated:
        return (f"column {', '.join(repr(h) for h in repeated)} appears more than once; "
                "each column must be named once")
    missing = [c for c in required if c not in names]
    if missing:
        return f"lacks column(s) {', '.join(missing)}"
    return ""


def parse_predictions(data: bytes, required=COLUMNS) -> dict[str, Scored]:
    """Target -> :class:`Scored` of a predictions file's bytes (rows of a file without a
    ``target`` column, when ``required`` allows it, go under ''); BadPredictions naming the
    line otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadPredictions(f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, None)
        if header is None:
            raise BadPredictions("is empty")
        problem = header_problem(header, required)
        if problem:
            raise BadPredictions(problem)
        names = [h.strip() for h in header]
        col = {c: names.index(c) for c in COLUMNS if c in names}
        out: dict[str, tuple[list, list, list]] = {}
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(names):
                raise BadPredictions(f"line {line} has {len(row)} fields, the header {len(names)}")
            target = row[col["target"]] if "target" in col else ""
            try:
                mos, pred = float(row[col["mos"]]), float(row[col["prediction"]])
            except ValueError:
                raise BadPredictions(f"line {line}: mos or prediction is not a number") from None
            images, m, p = out.setdefault(target, ([], [], []))
            images.append(row[col["image"]] if "image" in col else str(len(images)))
            m.append(mos)
            p.append(pred)
    except csv.Error as exc:
        raise BadPredictions(f"is not valid CSV ({exc})") from None
    return {t: Scored(tuple(i), np.asarray(m, dtype=float), np.asarray(p, dtype=float))
            for t, (i, m, p) in out.items()}


def read_predictions(path: Path | str, required=COLUMNS) -> dict[str, Scored]:
    """:func:`parse_predictions` of the file at ``path``, read through the size-capped,
    regular-files-only reader (OSError, including its UnsafeFile, or BadPredictions)."""
    return parse_predictions(read_capped(path, None), required)


def read_frame(path: Path | str, required=("mos", "prediction")):
    """The predictions file at ``path`` as a pandas DataFrame (pandas' own number parsing,
    as the plots and intervals always had), read through the size-capped,
    regular-files-only reader; BadPredictions when a column is named twice or a
    ``required`` one is missing, OSError when the file cannot be read."""
    import pandas as pd

    data = read_capped(path, None)
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    problem = header_problem(next(csv.reader([first]), []), required)
    if problem:
        raise BadPredictions(problem)
    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadPredictions(f"is not a readable table ({exc})") from None
