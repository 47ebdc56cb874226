"""LIVE In the Wild Image Quality Challenge (LIVE-C) loader: 1,162 authentic images.

Official layout read (``ChallengeDB_release``)::

    Images/<name>                       test images, .bmp and .JPG
    Images/trainingImages/t1.bmp..t7.bmp the 7 training images (not test material)
    Data/AllImages_release.mat          variable AllImages_release: cell array, 1,169 names
    Data/AllMOS_release.mat             variable AllMOS_release: 1 x 1,169 MOS, 0-100

The first 7 entries (t1.bmp..t7.bmp, the training images) are skipped, leaving 1,162.
The two .mat files are also accepted at the folder root when ``Data/`` is absent.
mos = MOS / 100.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from ...core.errors import DataError
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import FileIndex, RowChecks, load_mat, mat_numbers, mat_strings, require_file

IMAGES_MAT = "AllImages_release.mat"
MOS_MAT = "AllMOS_release.mat"
IMAGE_DIR = "Images"
MOS_RANGE = (0.0, 100.0)
_TRAINING = re.compile(r"^t\d+\.bmp$", re.IGNORECASE)
_HINT = ("re-extract Data/AllImages_release.mat and Data/AllMOS_release.mat from the "
         "official ChallengeDB_release archive")
_WHERE = "point at the ChallengeDB_release folder, which holds Data/ and Images/"


def is_training_image(name: str) -> bool:
    """True for the 7 training images (t1.bmp..t7.bmp) that the release lists first."""
    return bool(_TRAINING.match(name.replace("\\", "/").rsplit("/", 1)[-1]))


@register_dataset("livec", aliases=("ChallengeDB_release", "LIVEC", "LIVE_Challenge"),
                  expected=Expected(1162), kind="authentic",
                  description="LIVE In the Wild Image Quality Challenge, 1,162 authentic images")
def load_livec(root: Path) -> Dataset:
    """Read a LIVE-C release folder into a Dataset (mos = MOS/100), training images skipped."""
    root = Path(root)
    names_path = require_file(root, [f"Data/{IMAGES_MAT}", IMAGES_MAT], "the LIVE-C name list", _WHERE)
    mos_path = require_file(root, [f"Data/{MOS_MAT}", MOS_MAT], "the LIVE-C score file", _WHERE)
    names = mat_strings(load_mat(names_path, ["AllImages_release"], _HINT)["AllImages_release"],
                        names_path, "AllImages_release", _HINT)
    scores = mat_numbers(load_mat(mos_path, ["AllMOS_release"], _HINT)["AllMOS_release"],
                         mos_path, "AllMOS_release", _HINT)
    if len(names) != len(scores):
        raise DataError(f"{mos_path}: {len(scores)} scores but {names_path.name} lists {len(names)} "
                        f"images; {_HINT}")
    images = FileIndex(root, IMAGE_DIR)
    name_checks = RowChecks(names_path, _HINT, None)
    score_checks = RowChecks(mos_path, _HINT, MOS_RANGE)
    records, skipped = [], 0
    for k, (name, mos) in enumerate(zip(names, scores), start=1):
        if not name:
            raise DataError(f"{names_path}: entry {k} of AllImages_release: an empty image name; {_HINT}")
        name_checks.image(name, f"entry {k} of AllImages_release")
        if is_training_image(name):
            skipped += 1
            continue
        if math.isnan(mos):
            raise DataError(f"{mos_path}: entry {k} of AllMOS_release: the score of {name} is NaN; {_HINT}")
        score_checks.score(mos, f"entry {k} of AllMOS_release ({name})")
        records.append(Record(image=images.path_for(name), mos=mos / 100.0, mos_raw=mos))
    return Dataset("livec", root, records, kind="authentic",
                   notes=[f"skipped {skipped} training images (t1.bmp..t7.bmp)"])
