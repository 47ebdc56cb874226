"""TID2013 loader: 3,000 images = 25 references x 24 distortion types x 5 levels.

Official layout read::

    distorted_images/iXX_TT_L.bmp   (75 files differ in case on disk: 'I01_01_1.bmp',
                                     'I01_11_1.BMP', 'I01_13_1.BMP', ... for every XX)
    reference_images/I01.BMP .. I24.BMP, i25.bmp
    mos_with_names.txt               'MOS name' per line, MOS on 0-9, higher is better

Names are matched case-insensitively; each record's paths are spelt as on disk.
MOS is normalised as MOS / 9.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...core.errors import DataError
from ..distortion_types import TID2013_TYPES, abbreviation_of, abbreviations
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import FileIndex, RowChecks, require_file, to_float

SCORE_FILE = "mos_with_names.txt"
DISTORTED_DIR = "distorted_images"
REFERENCE_DIR = "reference_images"
MOS_SCALE = 9.0
MOS_RANGE = (0.0, MOS_SCALE)

_NAME = re.compile(r"^i(\d{2})_(\d{2})_(\d)\.bmp$", re.IGNORECASE)
_HINT = ("each line must be '<MOS> <name>' with names like i01_01_1.bmp; "
         "re-extract mos_with_names.txt from the official TID2013 archive")


def parse_tid2013_name(name: str) -> tuple[int, int, int]:
    """(reference number 1..25, type id 1..24, level 1..5) of a distorted-image name
    like 'i01_08_3.bmp' (any case, any leading folders). ValueError if it does not fit."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = _NAME.match(base)
    if not m:
        raise ValueError(f"'{name}' is not a TID2013 distorted-image name (iXX_TT_L.bmp)")
    ref, tid, level = (int(g) for g in m.groups())
    if not (1 <= ref <= 25 and 1 <= tid <= len(TID2013_TYPES) and 1 <= level <= 5):
        raise ValueError(f"'{name}': reference, type or level out of range")
    return ref, tid, level


def tid2013_ref_id(ref_number: int) -> str:
    """Reference (content) id of reference number ``ref_number``: 'I01'..'I25'."""
    return f"I{ref_number:02d}"


def read_mos_with_names(path: Path) -> list[tuple[int, float, str]]:
    """(line number, MOS, name) of each line of ``mos_with_names.txt``, in file order;
    DataError naming the file and line on a line that is not '<number> <name>'."""
    pairs = []
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the score file ({exc}); {_HINT}") from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"{path}: line {line_no}: expected '<MOS> <name>', got {line.strip()!r}; {_HINT}")
        pairs.append((line_no, to_float(fields[0], path, f"line {line_no}", _HINT), fields[1]))
    if not pairs:
        raise DataError(f"{path}: the score file holds no scores; {_HINT}")
    return pairs


@register_dataset("tid2013", aliases=(), expected=Expected(3000, refs=25, types=24, levels=5),
                  kind="synthetic", description="TID2013, 3,000 synthetically distorted images")
def load_tid2013(root: Path) -> Dataset:
    """Read a TID2013 release folder into a Dataset (mos = MOS/9, types by abbreviation).

    Images listed in the score file but absent on disk are kept (with the score file's
    spelling) for ``bench data check`` to report.
    """
    root = Path(root)
    score_path = require_file(root, [SCORE_FILE], "the TID2013 score file",
                              "point at the folder of the official TID2013 release, which holds "
                              "mos_with_names.txt, distorted_images/ and reference_images/")
    distorted = FileIndex(root, DISTORTED_DIR)
    references = FileIndex(root, REFERENCE_DIR)
    checks = RowChecks(score_path, _HINT, MOS_RANGE)
    records = []
    for line_no, mos, name in read_mos_with_names(score_path):
        where = f"line {line_no}"
        checks.score(mos, where)
        checks.image(name, where)
        try:
            ref, tid, level = parse_tid2013_name(name)
        except ValueError as exc:
            raise DataError(f"{score_path}: line {line_no}: {exc}; {_HINT}") from None
        records.append(Record(
            image=distorted.path_for(name),
            mos=mos / MOS_SCALE,
            mos_raw=mos,
            ref=tid2013_ref_id(ref),
            ref_image=references.path_for(f"i{ref:02d}.bmp"),
            dist_type=abbreviation_of(TID2013_TYPES, tid),
            dist_id=tid,
            level=level,
        ))
    return Dataset("tid2013", root, records, kind="synthetic",
                   type_names=abbreviations(TID2013_TYPES))
