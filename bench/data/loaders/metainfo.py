"""Generic loader for a folder described by a pyiqa-style meta-info CSV.

The CSV has a header. Its first column is the image path relative to the image folder,
its second the score (MOS or DMOS); columns named ``ref_name`` (reference image, also
relative to the folder), ``dist_type`` and ``level`` are used when present, wherever
they stand (and are not counted as the first or second column). Other columns are
ignored. ``image_column=`` / ``mos_column=`` name the two columns explicitly.

The score scale is unknown, so scores are min-max scaled to [0, 1]:
``mos = (score - mos_min) / (mos_max - mos_min)``, where ``mos_min`` / ``mos_max``
default to the smallest and largest score OF THE FILE. Give them explicitly (e.g. 1 and
5 for a 1-5 MOS) to keep the release's own scale, which matters when the file is a
subset. For a DMOS (higher is worse) pass ``higher_is_better=False``: mos = 1 - that.

Loaded by explicit path: ``root`` is the image folder (holding one ``meta_info*.csv``,
or pass ``meta_csv=``), or the CSV file itself, whose folder is then the image folder.
Registered as ``metainfo`` with no aliases, so ``find_release`` never picks it.
"""
from __future__ import annotations

import math
from pathlib import Path, PurePosixPath

from ...core.errors import DataError
from ..records import Dataset, Record
from ..registry import register_dataset
from ._common import PathResolver, RowChecks, escapes_root, read_csv_table, to_float

REF_COLUMNS = ("ref_name",)
TYPE_COLUMNS = ("dist_type",)
LEVEL_COLUMNS = ("level",)
_HINT = ("a meta-info CSV needs a header, the image path (relative to the folder) in its "
         "first column and the score in its second; optional columns ref_name, dist_type, level")


def find_meta_csv(root: Path, meta_csv: Path | None = None) -> tuple[Path, Path]:
    """(image folder, meta-info CSV) for ``root`` and an optional explicit ``meta_csv``
    (absolute, or relative to the folder). DataError when none or several candidates."""
    root = Path(root)
    if root.is_file():
        return root.parent, root
    if not root.is_dir():
        raise DataError(f"{root}: no such folder or meta-info CSV file")
    if meta_csv is not None:
        path = Path(meta_csv) if Path(meta_csv).is_absolute() else root / meta_csv
        if not path.is_file():
            raise DataError(f"{path}: meta-info CSV not found; {_HINT}")
        return root, path
    for pattern in ("meta_info*.csv", "*.csv"):
        found = sorted(p for p in root.glob(pattern) if p.is_file())
        if len(found) == 1:
            return root, found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise DataError(f"{root}: several meta-info CSV candidates ({names}); pass the CSV "
                            "file itself as the path, or meta_csv=")
    raise DataError(f"{root}: no meta-info CSV (meta_info*.csv) in the folder; {_HINT}")


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    lower = {h.lower(): h for h in header}
    return next((lower[n] for n in names if n in lower), None)


def scale_scores(raw: list[float], mos_min: float | None, mos_max: float | None,
                 higher_is_better: bool, where: Path) -> list[float]:
    """``raw`` min-max scaled to [0, 1] (bounds default to the data's own min and max),
    flipped when ``higher_is_better`` is False. DataError when max <= min."""
    lo = min(raw) if mos_min is None else float(mos_min)
    hi = max(raw) if mos_max is None else float(mos_max)
    if not hi > lo:
        raise DataError(f"{where}: cannot scale scores to [0, 1]: max {hi} is not above min {lo}; "
                        "give mos_min= and mos_max= explicitly")
    scaled = [(v - lo) / (hi - lo) for v in raw]
    return scaled if higher_is_better else [1.0 - v for v in scaled]


@register_dataset("metainfo", aliases=(), expected=None, kind="authentic",
                  description="any folder described by a pyiqa-style meta-info CSV (by path)")
def load_metainfo(root: Path, meta_csv: Path | None = None, *, mos_min: float | None = None,
                  mos_max: float | None = None, higher_is_better: bool = True,
                  image_column: str | None = None, mos_column: str | None = None) -> Dataset:
    """Read a folder described by a meta-info CSV into a Dataset (see the module docstring
    for the column rules and the min-max scaling). kind is 'synthetic' when the CSV has
    a dist_type column, else 'authentic'."""
    folder, csv_path = find_meta_csv(root, meta_csv)
    rows = read_csv_table(csv_path, [c for c in (image_column, mos_column) if c], _HINT)
    if not rows:
        raise DataError(f"{csv_path}: the file holds no rows; {_HINT}")
    header = list(rows[0][1])
    ref_col, type_col, level_col = (_column(header, names) for names in (REF_COLUMNS, TYPE_COLUMNS, LEVEL_COLUMNS))
    plain = [h for h in header if h not in (ref_col, type_col, level_col)]
    image_col = image_column or (plain[0] if plain else None)
    score_col = mos_column or next((h for h in plain if h != image_col), None)
    if image_col is None or score_col is None:
        raise DataError(f"{csv_path}: found no image and score columns (header: {', '.join(header)}); {_HINT}")

    resolver = PathResolver(folder)
    scale = None
    if mos_min is not None or mos_max is not None:
        scale = (-math.inf if mos_min is None else float(mos_min), math.inf if mos_max is None else float(mos_max))
    checks = RowChecks(csv_path, _HINT + " (or widen mos_min/mos_max)" if scale else _HINT, scale)
    raw = []
    for n, row in rows:
        where = f"line {n}, column {score_col}"
        raw.append(checks.score(to_float(row.get(score_col, ""), csv_path, where, _HINT), where))
    mos = scale_scores(raw, mos_min, mos_max, higher_is_better, csv_path)
    type_names = sorted({row[type_col] for _, row in rows if row.get(type_col)}) if type_col else []
    records = []
    for (line_no, row), score, value in zip(rows, raw, mos):
        name = row.get(image_col, "").replace("\\", "/")
        if not name:
            raise DataError(f"{csv_path}: line {line_no}: empty image name; {_HINT}")
        checks.image(name, f"line {line_no}")
        ref_name = row.get(ref_col, "").replace("\\", "/") if ref_col else ""
        if ref_name and escapes_root(ref_name):
            raise DataError(f"{csv_path}: line {line_no}: {ref_col} {ref_name!r} leads outside the "
                            "image folder; image paths must be relative to it")
        dist_type = (row.get(type_col) or None) if type_col else None
        level = None
        if level_col and row.get(level_col):
            level = int(to_float(row[level_col], csv_path, f"line {line_no}, column {level_col}", _HINT))
        records.append(Record(
            image=resolver.path_for(name), mos=value, mos_raw=score,
            ref=PurePosixPath(ref_name).stem if ref_name else None,
            ref_image=resolver.path_for(ref_name) if ref_name else None,
            dist_type=dist_type,
            dist_id=type_names.index(dist_type) + 1 if dist_type else None,
            level=level,
        ))
    lo = min(raw) if mos_min is None else mos_min
    hi = max(raw) if mos_max is None else mos_max
    return Dataset("metainfo", folder, records, kind="synthetic" if type_names else "authentic",
                   type_names=type_names,
                   notes=[f"scores read from {csv_path.name}, column {score_col}, min-max scaled "
                          f"from [{lo}, {hi}]" + ("" if higher_is_better else ", flipped (DMOS)")])
