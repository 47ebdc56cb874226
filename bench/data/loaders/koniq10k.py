"""KonIQ-10k loader: 10,073 authentic images, no references or distortion types.

Official layout read::

    1024x768/<image_name>                        full-size images, and/or
    512x384/<image_name>                         the half-size copies
    koniq10k_scores_and_distributions.csv        image_name, c1..c5, c_total, MOS, SD,
                                                 MOS_zscore; MOS on 1-5, higher is better

The 1024x768 folder is used when present, else 512x384; ``resolution=`` picks one
explicitly. mos = (MOS - 1) / 4.
"""
from __future__ import annotations

from pathlib import Path

from ...core.errors import DataError
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import FileIndex, RowChecks, find_path, read_csv_table, require_file, to_float

SCORE_FILE = "koniq10k_scores_and_distributions.csv"
RESOLUTIONS = ("1024x768", "512x384")
MOS_RANGE = (1.0, 5.0)
_HINT = ("the file must have the columns image_name and MOS (1-5); re-extract "
         "koniq10k_scores_and_distributions.csv from the official KonIQ-10k archive")


def choose_image_dir(root: Path, resolution: str | None = None) -> str:
    """The image folder to read: ``resolution`` if given (must be one of RESOLUTIONS),
    else the first of RESOLUTIONS that exists under ``root``. DataError if none does."""
    if resolution is not None:
        if resolution not in RESOLUTIONS:
            raise DataError(f"KonIQ-10k resolution '{resolution}' is not one of {', '.join(RESOLUTIONS)}")
        return resolution
    for res in RESOLUTIONS:
        if find_path(root, res, is_dir=True) is not None:
            return res
    raise DataError(f"{root}: neither 1024x768/ nor 512x384/ found; point at the folder of the "
                    "official KonIQ-10k release, which holds one of these image folders")


@register_dataset("koniq10k", aliases=("KonIQ-10k",), expected=Expected(10073),
                  kind="authentic", description="KonIQ-10k, 10,073 authentic images")
def load_koniq10k(root: Path, resolution: str | None = None) -> Dataset:
    """Read a KonIQ-10k release folder into a Dataset (mos = (MOS-1)/4).

    resolution: '1024x768' or '512x384'; None picks 1024x768 when present.
    """
    root = Path(root)
    score_path = require_file(root, [SCORE_FILE], "the KonIQ-10k score file",
                              "point at the folder of the official KonIQ-10k release")
    folder = choose_image_dir(root, resolution)
    images = FileIndex(root, folder)
    checks = RowChecks(score_path, _HINT, MOS_RANGE)
    records = []
    for line_no, row in read_csv_table(score_path, ["image_name", "MOS"], _HINT):
        name = row["image_name"]
        if not name:
            raise DataError(f"{score_path}: line {line_no}: empty image_name; {_HINT}")
        checks.image(name, f"line {line_no}")
        where = f"line {line_no}, column MOS"
        mos = checks.score(to_float(row["MOS"], score_path, where, _HINT), where)
        records.append(Record(image=images.path_for(name), mos=(mos - 1.0) / 4.0, mos_raw=mos))
    if not records:
        raise DataError(f"{score_path}: the score file holds no rows; {_HINT}")
    return Dataset("koniq10k", root, records, kind="authentic",
                   notes=[f"images read from {images.folder}/"])
