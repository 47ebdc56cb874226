"""``bench data check``: load a release and compare what is on disk with what it should be.

:func:`check_dataset` loads a release with its registered loader, then reports

* counts found (images, references, types, levels) against the release's ``Expected``;
* ``missing``: files the score file lists (images and references) that are not on disk;
* ``unreadable``: present files that Pillow cannot open and decode;
* ``unexpected``: image files in the folders the dataset uses that are neither listed
  images nor references.

A malformed score file is a DataError from the loader; the check records its message.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..core.errors import DataError
from .loaders._common import is_image_name
from .records import Dataset
from .registry import DatasetSpec, Expected

#: How many names a summary line shows per problem before it says '(+N more)'.
LIST_LIMIT = 5


@dataclass
class CheckResult:
    """Outcome of checking one release folder.

    images/refs/types/levels: counts found in the score file (distinct references,
    types and levels); expected: the release's counts (None: nothing to compare).
    missing/unreadable/unexpected: paths relative to ``root``, sorted.
    error: the loader's DataError message when the release could not be loaded at all.
    """

    name: str
    root: Path
    images: int = 0
    refs: int = 0
    types: int = 0
    levels: int = 0
    expected: Expected | None = None
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    error: str | None = None

    def count_mismatches(self) -> list[str]:
        """'expected 3000 images'-style notes for every count that differs from the release."""
        if self.expected is None or self.error:
            return []
        notes = []
        for label in ("images", "refs", "types", "levels"):
            want = getattr(self.expected, label)
            if want is not None and getattr(self, label) != want:
                notes.append(f"expected {want} {label}")
        return notes

    @property
    def ok(self) -> bool:
        """True when the release loaded, every count matches and no file is missing,
        unreadable or unexpected."""
        return (self.error is None and not self.missing and not self.unreadable
                and not self.unexpected and not self.count_mismatches())

    def counts_text(self) -> str:
        """'3000 images, 25 refs, 24 types, 5 levels' (refs/types/levels only where the
        dataset has them or the release expects them)."""
        parts = [f"{self.images} images"]
        for label in ("refs", "types", "levels"):
            want = getattr(self.expected, label) if self.expected else None
            if getattr(self, label) or want is not None:
                parts.append(f"{getattr(self, label)} {label}")
        return ", ".join(parts)

    def problems(self) -> list[str]:
        """The problems as short phrases, e.g. 'missing 3: a.bmp, b.bmp, c.bmp'."""
        if self.error:
            return [f"ERROR: {self.error}"]
        out = self.count_mismatches()
        for label in ("missing", "unreadable", "unexpected"):
            names = getattr(self, label)
            if names:
                out.append(f"{label} {len(names)}: {format_names(names)}")
        return out

    def summary_line(self) -> str:
        """One line: name, root, counts, then 'OK' or the problems separated by '; '."""
        if self.error:
            return f"{self.name}  {self.root}  {self.problems()[0]}"
        status = "OK" if self.ok else "; ".join(self.problems())
        return f"{self.name}  {self.root}  {self.counts_text()}  {status}"


def format_names(names: list[str], limit: int = LIST_LIMIT) -> str:
    """The first ``limit`` names joined by ', ', then '... (+N more)' if there are more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... (+{len(names) - limit} more)"


def image_decodes(path: Path) -> bool:
    """True when Pillow can open ``path`` and decode its pixels. JPEGs are decoded at
    1/8 scale (DCT draft mode): that reads every byte of the stream, so truncated or
    corrupt files still fail, at a fraction of the cost."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        return True
    except Exception:  # noqa: BLE001 -- any decoder failure means unreadable
        return False


def find_unreadable(root: Path, paths: list[str], workers: int | None = None) -> list[str]:
    """Those of ``paths`` (relative to ``root``, all present) that fail to decode,
    checked in a thread pool (Pillow releases the GIL while decoding)."""
    workers = workers or min(32, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ok = list(pool.map(lambda p: image_decodes(Path(root) / p), paths))
    return sorted(p for p, good in zip(paths, ok) if not good)


def listed_files(ds: Dataset) -> list[str]:
    """Every file a dataset names, images then references, each once, in record order."""
    seen: dict[str, None] = {}
    for rec in ds.records:
        seen.setdefault(rec.image, None)
    for rec in ds.records:
        if rec.ref_image:
            seen.setdefault(rec.ref_image, None)
    return list(seen)


def find_unexpected(root: Path, listed: list[str]) -> list[str]:
    """Image files in the folders of ``listed`` (not their subfolders) that are not listed."""
    wanted = set(listed)
    folders = sorted({PurePosixPath(p).parent.as_posix() for p in listed})
    extra = []
    for folder in folders:
        here = Path(root) / folder
        if not here.is_dir():
            continue
        for child in here.iterdir():
            relpath = child.name if folder == "." else f"{folder}/{child.name}"
            if child.is_file() and is_image_name(child.name) and relpath not in wanted:
                extra.append(relpath)
    return sorted(extra)


def check_dataset(spec: DatasetSpec, root: Path, verify_images: bool = True,
                  workers: int | None = None) -> CheckResult:
    """Load the release at ``root`` with ``spec`` and check it (see the module docstring).

    verify_images: decode every present file with Pillow (False: existence only).
    workers: threads for decoding (default 2 x CPU count, at most 32).
    A DataError while loading is returned as ``CheckResult.error``, not raised.
    """
    try:
        ds = spec.load(Path(root))
    except DataError as exc:
        return CheckResult(spec.name, Path(root), expected=spec.expected, error=str(exc))
    base = Path(ds.root)
    files = listed_files(ds)
    present = [p for p in files if (base / p).is_file()]
    present_set = set(present)
    return CheckResult(
        name=spec.name,
        root=base,
        images=len({r.image for r in ds.records}),
        refs=len(ds.refs()),
        types=len({r.dist_type for r in ds.records if r.dist_type is not None}),
        levels=len({r.level for r in ds.records if r.level is not None}),
        expected=spec.expected,
        missing=sorted(p for p in files if p not in present_set),
        unreadable=find_unreadable(base, present, workers) if verify_images else [],
        unexpected=find_unexpected(base, files),
    )
