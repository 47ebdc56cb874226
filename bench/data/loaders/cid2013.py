"""CID2013 loader: 474 authentic camera images in six image sets (the paper says 480;
the release holds 474). No references or distortion types.

Official layout read::

    IS1..IS6/coN/IS_<roman>_CNN_DNN.jpg       e.g. IS_IV_C03_D12.jpg in IS4/co3/
    CID2013 data - version 12112014.xlsx      sheet 'CID2013 MOS', columns Source_ID
                                              (e.g. IS_I_C01_D01) and Realigned MOS

or, instead of the workbook, a documented two-column CSV ``scores.csv`` with header
``image,score``: image path relative to the release folder, score the realigned MOS.
The workbook wins when both are present.

mos = Realigned MOS / 100, NOT clipped: a few realigned scores are slightly below 0
(lowest -9.5), so a few mos values are slightly negative; clipping would tie them.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from ...core.errors import DataError, require_extra
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import PathResolver, RowChecks, find_child, read_image_score_csv, to_float

WORKBOOK = "CID2013 data - version 12112014.xlsx"
SHEET = "CID2013 MOS"
ID_COLUMN = "Source_ID"
MOS_COLUMN = "Realigned MOS"
CSV_FILE = "scores.csv"
#: Realigned MOS is nominally 0-100; the realignment puts a few images slightly outside
#: (the release's lowest is -9.5, highest 87.9), so 20 points of margin each side.
MOS_RANGE = (-20.0, 120.0)

_ROMAN = {"I": 1, "V": 5, "X": 10}
_SOURCE_ID = re.compile(r"^IS_([IVX]+)_C(\d+)_D(\d+)$", re.IGNORECASE)
_HINT_XLSX = (f"the workbook needs a sheet '{SHEET}' with columns {ID_COLUMN} and {MOS_COLUMN}; "
              "re-extract it from the official CID2013 archive, or write scores.csv (image,score)")
_HINT_CSV = "scores.csv must have the header image,score (image relative to the release folder)"


def roman_to_int(roman: str) -> int:
    """Value of a Roman numeral made of I, V and X ('IV' -> 4). ValueError if empty/invalid."""
    if not roman or any(c not in _ROMAN for c in roman.upper()):
        raise ValueError(f"'{roman}' is not a Roman numeral")
    values = [_ROMAN[c] for c in roman.upper()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def cid2013_path(source_id: str) -> str:
    """Release path of a Source_ID: 'IS_IV_C03_D12' -> 'IS4/co3/IS_IV_C03_D12.jpg'.

    The image set is the Roman numeral in Arabic digits, the camera folder the C number
    without leading zeros. An id that does not fit the pattern maps to '<id>.jpg'.
    """
    stem = source_id[:-4] if source_id.lower().endswith(".jpg") else source_id
    m = _SOURCE_ID.match(stem)
    if not m:
        return f"{stem}.jpg"
    try:
        image_set = roman_to_int(m.group(1))
    except ValueError:
        return f"{stem}.jpg"
    return f"IS{image_set}/co{int(m.group(2))}/{stem}.jpg"


def _find_workbook(root: Path) -> Path | None:
    exact = find_child(root, WORKBOOK, is_dir=False)
    if exact is not None:
        return exact
    others = sorted(p for p in root.glob("*.xlsx") if p.name.lower().startswith("cid2013"))
    return others[0] if others else None


def read_cid2013_workbook(path: Path) -> list[tuple[str, float]]:
    """(Source_ID, realigned MOS) pairs of the official workbook, in sheet order.

    Rows with an empty Source_ID are skipped. DataError naming the file when it cannot be
    read, lacks the sheet or a column, or holds a non-numeric score.
    """
    import pandas as pd  # local: keep `import bench.data.loaders` light

    require_extra("openpyxl", "cid2013", f"reading {path.name}")
    try:
        frame = pd.read_excel(path, sheet_name=SHEET, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 -- BadZipFile, ValueError (no such sheet), ImportError, ...
        raise DataError(f"{path}: cannot read sheet '{SHEET}' ({type(exc).__name__}: {exc}); "
                        f"{_HINT_XLSX}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in (ID_COLUMN, MOS_COLUMN) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: sheet '{SHEET}' lacks column(s) {', '.join(missing)} "
                        f"(found: {', '.join(frame.columns)}); {_HINT_XLSX}")
    checks = RowChecks(path, _HINT_XLSX, MOS_RANGE)
    pairs = []
    for i, (sid, mos) in enumerate(zip(frame[ID_COLUMN], frame[MOS_COLUMN])):
        if sid is None or (isinstance(sid, float) and math.isnan(sid)) or not str(sid).strip():
            continue
        where = f"sheet '{SHEET}' row {i + 2}"
        sid = checks.image(str(sid).strip(), where)
        pairs.append((sid, checks.score(to_float(mos, path, where, _HINT_XLSX), where)))
    if not pairs:
        raise DataError(f"{path}: sheet '{SHEET}' holds no scores; {_HINT_XLSX}")
    return pairs


@register_dataset("cid2013", aliases=("CID2013",), expected=Expected(474), kind="authentic",
                  description="CID2013, 474 authentic camera images")
def load_cid2013(root: Path) -> Dataset:
    """Read a CID2013 release folder into a Dataset (mos = realigned MOS/100, unclipped).

    Scores come from the official workbook, else from scores.csv; DataError if neither.
    """
    root = Path(root)
    resolver = PathResolver(root)
    workbook = _find_workbook(root)
    if workbook is not None:
        entries = [(resolver.path_for(cid2013_path(sid)), mos)
                   for sid, mos in read_cid2013_workbook(workbook)]
        source = workbook.name
    else:
        csv_path = find_child(root, CSV_FILE, is_dir=False)
        if csv_path is None:
            raise DataError(f"{root}: neither '{WORKBOOK}' nor '{CSV_FILE}' found; point at the "
                            "folder of the official CID2013 release (IS1..IS6 and the workbook), "
                            f"or add {CSV_FILE} with the header image,score")
        entries = [(resolver.path_for(name), mos)
                   for name, mos in read_image_score_csv(csv_path, _HINT_CSV, scale=MOS_RANGE)]
        source = csv_path.name
    records = [Record(image=image, mos=mos / 100.0, mos_raw=mos) for image, mos in entries]
    return Dataset("cid2013", root, records, kind="authentic",
                   notes=[f"scores read from {source} (realigned MOS / 100, not clipped)"])
