"""LIVE Multiply Distorted (MLIVE, LIVE MD) loader: 450 images of 15 references, two
combinations of distortions (blur followed by JPEG, blur followed by noise).

Official layout read (folder names contain spaces; 'Part_1' is accepted too)::

    To_Release/Part 1/Imagelists.mat     refimgs, distimgs, ref4dist (1-based into refimgs)
    To_Release/Part 1/Scores.mat         DMOSscores (1 x 225, 0-100, higher is worse)
    To_Release/Part 1/blurjpeg/          the 225 blur+JPEG images and the 15 references
    To_Release/Part 2/...                the same for blurnoise/

or, instead of the .mat files, a two-column CSV ``scores.csv`` (header ``image,score``,
image relative to the folder holding the CSV, score the DMOS) at the release folder or
in ``To_Release/``; the part is read from the folder name (blurjpeg / blurnoise) and the
reference from the name's prefix (``cows_blur1_jpeg2.bmp`` -> ``cows.bmp``).

The references in each part folder are references, not test images: entries that
name a reference are skipped. mos = 1 - DMOS / 100. dist_type 'BLUR+JPEG' (id 1) for
part 1, 'BLUR+NOISE' (id 2) for part 2; level None; ref = reference name ('cows').
A reference missing from its part folder is looked for in ``To_Release/Ref_Images/``.
"""
from __future__ import annotations

import math
from pathlib import Path, PurePosixPath

from ...core.errors import DataError
from ..distortion_types import MLIVE_TYPES, abbreviation_of, abbreviations
from ..records import Dataset, Record
from ..registry import Expected, register_dataset
from ._common import (
    FileIndex,
    PathResolver,
    RowChecks,
    escapes_root,
    find_child,
    find_path,
    load_mat,
    mat_numbers,
    mat_strings,
    read_image_score_csv,
    rel,
)

RELEASE_DIR = "To_Release"
#: (type id, part folder, image folder) of the two parts.
PARTS = ((1, "Part 1", "blurjpeg"), (2, "Part 2", "blurnoise"))
CSV_FILE = "scores.csv"
REF_DIR = "Ref_Images"
DMOS_RANGE = (0.0, 100.0)
_HINT_MAT = ("each part needs Imagelists.mat (refimgs, distimgs, ref4dist) and Scores.mat "
             "(DMOSscores); re-extract them from the official LIVE MD archive")
_HINT_CSV = "scores.csv must have the header image,score (DMOS, 0-100, higher is worse)"


def dmos_to_mos(dmos: float) -> float:
    """MLIVE's DMOS (0-100, higher is worse) mapped to [0, 1] with higher better."""
    return 1.0 - dmos / 100.0


def mlive_reference_name(image_name: str) -> str | None:
    """The reference file name of a distorted-image name ('cows_blur1_jpeg2.bmp' ->
    'cows.bmp'), or None when the name has no '_' (it is a reference itself)."""
    base = PurePosixPath(image_name.replace("\\", "/")).name
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, "bmp"
    if "_" not in stem:
        return None
    return f"{stem.split('_', 1)[0]}.{suffix}"


def _part_of(relpath: str) -> int | None:
    """Type id (1 or 2) of an image from its folder names, or None if they do not say."""
    folders = [p.lower().replace(" ", "_") for p in PurePosixPath(relpath).parts[:-1]]
    for type_id, part, images in PARTS:
        if images in folders or part.lower().replace(" ", "_") in folders:
            return type_id
    return None


class _Refs:
    """Finds a reference file: first in its part's image folder, then in Ref_Images/."""

    def __init__(self, root: Path, base: Path):
        folder = find_path(base, REF_DIR, is_dir=True)
        self.shared = FileIndex(root, rel(root, folder)) if folder is not None else None

    def path(self, part_images: FileIndex, name: str) -> str:
        found = part_images.get(name) or (self.shared.get(name) if self.shared else None)
        return found or part_images.path_for(name)


def _record(image: str, dmos: float, type_id: int, ref_name: str, ref_image: str) -> Record:
    return Record(image=image, mos=dmos_to_mos(dmos), mos_raw=dmos,
                  ref=PurePosixPath(ref_name).stem, ref_image=ref_image,
                  dist_type=abbreviation_of(MLIVE_TYPES, type_id), dist_id=type_id, level=None)


def _part_mats(part_dir: Path | None, images: str) -> tuple[Path, Path] | None:
    """(Imagelists.mat, Scores.mat) of a part: in the part folder (the release's place),
    else in its image folder; None when either is absent."""
    for folder in (part_dir, find_child(part_dir, images, is_dir=True) if part_dir else None):
        if folder is None:
            continue
        found = [find_child(folder, f, is_dir=False) for f in ("Imagelists.mat", "Scores.mat")]
        if all(found):
            return found[0], found[1]
    return None


def _read_part_mats(lists_path: Path, scores_path: Path, type_id: int, images: FileIndex,
                    refs: _Refs) -> list[Record]:
    lists = load_mat(lists_path, ["refimgs", "distimgs", "ref4dist"], _HINT_MAT)
    ref_names = mat_strings(lists["refimgs"], lists_path, "refimgs", _HINT_MAT)
    dist_names = mat_strings(lists["distimgs"], lists_path, "distimgs", _HINT_MAT)
    ref_index = mat_numbers(lists["ref4dist"], lists_path, "ref4dist", _HINT_MAT)
    dmos = mat_numbers(load_mat(scores_path, ["DMOSscores"], _HINT_MAT)["DMOSscores"],
                       scores_path, "DMOSscores", _HINT_MAT)
    if not (len(dist_names) == len(ref_index) == len(dmos)):
        raise DataError(f"{scores_path}: {len(dmos)} DMOS scores, but {lists_path.name} lists "
                        f"{len(dist_names)} images and {len(ref_index)} ref4dist entries; {_HINT_MAT}")
    for k, ref in enumerate(ref_names, start=1):
        if escapes_root(ref):
            raise DataError(f"{lists_path}: entry {k} of refimgs: image path {ref!r} leads outside "
                            "the release folder; image paths must be relative to it")
    ref_lower = {r.lower() for r in ref_names}
    name_checks = RowChecks(lists_path, _HINT_MAT, None)
    score_checks = RowChecks(scores_path, _HINT_MAT, DMOS_RANGE)
    records = []
    for k, (name, r, score) in enumerate(zip(dist_names, ref_index, dmos), start=1):
        name_checks.image(name, f"entry {k} of distimgs")
        if name.lower() in ref_lower:
            continue  # a reference listed among the images: not test material
        if r != int(r) or not 1 <= int(r) <= len(ref_names):
            raise DataError(f"{lists_path}: ref4dist of {name} is {r}, not an index 1..{len(ref_names)} "
                            f"into refimgs; {_HINT_MAT}")
        if math.isnan(score):
            raise DataError(f"{scores_path}: entry {k} of DMOSscores: the DMOS of {name} is NaN; {_HINT_MAT}")
        score_checks.score(score, f"entry {k} of DMOSscores ({name})")
        ref_name = ref_names[int(r) - 1]
        records.append(_record(images.path_for(name), score, type_id, ref_name,
                               refs.path(images, ref_name)))
    return records


def _read_csv(root: Path, csv_path: Path, refs: _Refs) -> list[Record]:
    resolver = PathResolver(root)
    prefix = rel(root, csv_path.parent)
    records = []
    for name, score in read_image_score_csv(csv_path, _HINT_CSV, scale=DMOS_RANGE):
        relpath = name if prefix == "." else f"{prefix}/{name}"
        ref_name = mlive_reference_name(name)
        if ref_name is None:
            continue  # a reference image, not test material
        type_id = _part_of(relpath)
        if type_id is None:
            raise DataError(f"{csv_path}: cannot tell the part of '{name}': its path must contain "
                            f"blurjpeg/ or blurnoise/ (or Part 1/ / Part 2/); {_HINT_CSV}")
        image = resolver.path_for(relpath)
        folder = PurePosixPath(image).parent.as_posix()
        records.append(_record(image, score, type_id, ref_name,
                               refs.path(resolver.index(folder), ref_name)))
    return records


@register_dataset("mlive", aliases=("LIVE_MD", "LIVEMD"), expected=Expected(450, refs=15, types=2),
                  kind="multiply", description="LIVE Multiply Distorted, 450 images, 2 combinations")
def load_mlive(root: Path) -> Dataset:
    """Read an MLIVE release folder (the one holding To_Release/, or To_Release itself)
    into a Dataset (mos = 1 - DMOS/100). The .mat files win over scores.csv."""
    root = Path(root)
    base = find_path(root, RELEASE_DIR, is_dir=True) or root
    refs = _Refs(root, base)
    parts = []
    for type_id, part, images in PARTS:
        part_dir = find_path(base, part, is_dir=True)
        parts.append((type_id, part, images, part_dir, _part_mats(part_dir, images)))
    records: list[Record] = []
    if any(mats for *_, mats in parts):
        for type_id, part, images, part_dir, mats in parts:
            if mats is None:
                where = part_dir if part_dir is not None else base / part
                raise DataError(f"{where}: Imagelists.mat and Scores.mat not found; {_HINT_MAT}")
            index = FileIndex(root, f"{rel(root, part_dir)}/{images}")
            records += _read_part_mats(*mats, type_id, index, refs)
        source = "Imagelists.mat/Scores.mat"
    else:
        csv_path = find_child(root, CSV_FILE, is_dir=False) or find_child(base, CSV_FILE, is_dir=False)
        if csv_path is None:
            raise DataError(f"{root}: no 'To_Release/Part 1/Imagelists.mat' nor '{CSV_FILE}' found; "
                            "point at the folder of the official LIVE MD release (it holds "
                            f"To_Release/), or add {CSV_FILE} with the header image,score (DMOS)")
        records = _read_csv(root, csv_path, refs)
        source = rel(root, csv_path)
    return Dataset("mlive", root, records, kind="multiply", type_names=abbreviations(MLIVE_TYPES),
                   notes=[f"scores read from {source} (mos = 1 - DMOS/100)"])
