"""KADID-10k loader: 10,125 images = 81 references x 25 distortion types x 5 levels.

Official layout read::

    images/IXX.png            the 81 references
    images/IXX_TT_LL.png      the distorted images
    dmos.csv                  columns dist_img, ref_img, dmos, var; dmos on 1-5,
                              higher is better

mos = (dmos - 1) / 4. Names are matched case-insensitively.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...core.errors import DataError
from ..distortion_types import KADID10K_TYPES, abbreviation_of, abbreviations
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import FileIndex, RowChecks, escapes_root, read_csv_table, require_file, to_float

SCORE_FILE = "dmos.csv"
IMAGE_DIR = "images"
DMOS_RANGE = (1.0, 5.0)

_NAME = re.compile(r"^I(\d{2})_(\d{2})_(\d{2})\.png$", re.IGNORECASE)
_HINT = ("dmos.csv must have the columns dist_img, ref_img, dmos, var with names like "
         "I01_01_01.png; re-extract it from the official KADID-10k archive")


def parse_kadid10k_name(name: str) -> tuple[int, int, int]:
    """(reference number 1..81, type id 1..25, level 1..5) of a distorted-image name
    like 'I01_08_03.png' (any case, any leading folders). ValueError if it does not fit."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = _NAME.match(base)
    if not m:
        raise ValueError(f"'{name}' is not a KADID-10k distorted-image name (IXX_TT_LL.png)")
    ref, tid, level = (int(g) for g in m.groups())
    if not (1 <= ref <= 81 and 1 <= tid <= len(KADID10K_TYPES) and 1 <= level <= 5):
        raise ValueError(f"'{name}': reference, type or level out of range")
    return ref, tid, level


def kadid10k_ref_id(ref_number: int) -> str:
    """Reference (content) id of reference number ``ref_number``: 'I01'..'I81'."""
    return f"I{ref_number:02d}"


def dmos_to_mos(dmos: float) -> float:
    """KADID-10k's DMOS (1-5, higher is better) mapped to [0, 1]."""
    return (dmos - 1.0) / 4.0


@register_dataset("kadid10k", aliases=("KADID-10k",), expected=Expected(10125, refs=81, types=25, levels=5),
                  kind="synthetic", description="KADID-10k, 10,125 synthetically distorted images")
def load_kadid10k(root: Path) -> Dataset:
    """Read a KADID-10k release folder into a Dataset (mos = (dmos-1)/4).

    Images listed in dmos.csv but absent on disk are kept for ``bench data check``.
    """
    root = Path(root)
    score_path = require_file(root, [SCORE_FILE], "the KADID-10k score file",
                              "point at the folder of the official KADID-10k release, which holds "
                              "dmos.csv and images/")
    images = FileIndex(root, IMAGE_DIR)
    checks = RowChecks(score_path, _HINT, DMOS_RANGE)
    records = []
    for line_no, row in read_csv_table(score_path, ["dist_img", "ref_img", "dmos"], _HINT):
        name = checks.image(row["dist_img"], f"line {line_no}")
        if row["ref_img"] and escapes_root(row["ref_img"]):
            raise DataError(f"{score_path}: line {line_no}: ref_img {row['ref_img']!r} leads outside "
                            "the release folder; image paths must be relative to it")
        try:
            ref, tid, level = parse_kadid10k_name(name)
        except ValueError as exc:
            raise DataError(f"{score_path}: line {line_no}: {exc}; {_HINT}") from None
        where = f"line {line_no}, column dmos"
        dmos = checks.score(to_float(row["dmos"], score_path, where, _HINT), where)
        ref_name = row["ref_img"] or f"I{ref:02d}.png"
        records.append(Record(
            image=images.path_for(name),
            mos=dmos_to_mos(dmos),
            mos_raw=dmos,
            ref=kadid10k_ref_id(ref),
            ref_image=images.path_for(ref_name),
            dist_type=abbreviation_of(KADID10K_TYPES, tid),
            dist_id=tid,
            level=level,
        ))
    if not records:
        raise DataError(f"{score_path}: the score file holds no rows; {_HINT}")
    return Dataset("kadid10k", root, records, kind="synthetic",
                   type_names=abbreviations(KADID10K_TYPES))
