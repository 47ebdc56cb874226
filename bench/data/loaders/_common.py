"""Parsing helpers shared by the official-layout loaders.

One job each: find a release file, index a folder's files case-insensitively, read a
CSV table or a two-column ``image,score`` CSV, read variables from a MATLAB ``.mat``
file, and turn a cell's text into a float. Every failure is a :class:`DataError` whose
message names the file, says what is wrong and what to do.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from ...core.errors import DataError

#: File name endings counted as images by the loaders and by ``bench data check``.
IMAGE_SUFFIXES = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".webp"})


def is_image_name(name: str) -> bool:
    """True when ``name`` ends in one of :data:`IMAGE_SUFFIXES` (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _fold(name: str) -> str:
    """Case- and separator-folded form of a folder name ('Part 1' == 'part_1')."""
    return name.lower().replace(" ", "_")


def find_child(folder: Path, name: str, *, is_dir: bool | None = None) -> Path | None:
    """The entry of ``folder`` called ``name``, compared case-insensitively and with
    spaces and underscores treated alike; an exact match wins. None if absent.

    is_dir: True to accept folders only, False for files only, None for either.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None

    def kind_ok(p: Path) -> bool:
        return is_dir is None or p.is_dir() == is_dir

    exact = folder / name
    if exact.exists() and kind_ok(exact):
        return exact
    wanted = _fold(name)
    for child in sorted(folder.iterdir()):
        if _fold(child.name) == wanted and kind_ok(child):
            return child
    return None


def find_path(root: Path, *parts: str, is_dir: bool | None = None) -> Path | None:
    """Follow ``parts`` below ``root`` with :func:`find_child` at each step (so
    ``find_path(root, 'To_Release', 'Part 1')`` finds ``to_release/Part_1``)."""
    here: Path | None = Path(root)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = find_child(here, part, is_dir=is_dir if last else True)
        if here is None:
            return None
    return here


def require_file(root: Path, candidates: Sequence[str], what: str, hint: str) -> Path:
    """The first of ``candidates`` (paths relative to ``root``, '/'-separated) that
    exists, matched case-insensitively; a DataError naming them all otherwise.

    what: the file's role ('the score file'); hint: what the user should do.
    """
    for cand in candidates:
        found = find_path(root, *PurePosixPath(cand).parts, is_dir=False)
        if found is not None:
            return found
    listed = " or ".join(f"'{c}'" for c in candidates)
    raise DataError(f"{Path(root)}: {what} {listed} not found; {hint}")


def rel(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a '/'-separated string."""
    return Path(path).relative_to(root).as_posix()


class FileIndex:
    """The files directly inside one folder of a release, found by name regardless of case.

    root: the release root; folder: the folder's path relative to root ('/'-separated),
    itself matched case-insensitively. Paths returned are relative to root and spelt
    as on disk. A missing folder gives an empty index (every lookup misses).
    """

    def __init__(self, root: Path, folder: str):
        self.root = Path(root)
        found = find_path(self.root, *PurePosixPath(folder).parts, is_dir=True) if folder else self.root
        self.folder = rel(self.root, found) if found is not None else folder
        self.exists = found is not None
        self._by_lower: dict[str, str] = {}
        if found is not None:
            for child in sorted(found.iterdir()):
                if child.is_file():
                    self._by_lower.setdefault(child.name.lower(), child.name)

    def _join(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder not in ("", ".") else name

    def get(self, name: str) -> str | None:
        """Root-relative path of the file called ``name`` (any case), or None."""
        real = self._by_lower.get(name.lower())
        return None if real is None else self._join(real)

    def path_for(self, name: str) -> str:
        """Root-relative path of ``name`` as on disk; when absent, the path it should
        have (as the score file spells it), so ``bench data check`` can report it."""
        return self.get(name) or self._join(name)

    def names(self) -> list[str]:
        """The real names of all files of the folder, sorted."""
        return sorted(self._by_lower.values())


class PathResolver:
    """Resolves '/'-separated paths relative to a release root case-insensitively,
    keeping one :class:`FileIndex` per folder so that thousands of lookups stay cheap."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._folders: dict[str, FileIndex] = {}

    def index(self, folder: str) -> FileIndex:
        """The (cached) FileIndex of ``folder`` (root-relative; '' or '.' for the root)."""
        folder = "" if folder in ("", ".") else folder
        if folder not in self._folders:
            self._folders[folder] = FileIndex(self.root, folder)
        return self._folders[folder]

    def get(self, relpath: str) -> str | None:
        """Root-relative path of ``relpath`` as spelt on disk, or None if absent."""
        folder, _, name = relpath.replace("\\", "/").strip("/").rpartition("/")
        return self.index(folder).get(name)

    def path_for(self, relpath: str) -> str:
        """Like :meth:`get`, but an absent file keeps the given spelling."""
        return self.get(relpath) or relpath.replace("\\", "/").strip("/")


def to_float(text, path: Path, where: str, hint: str) -> float:
    """``text`` as a float; a DataError naming ``path`` and ``where`` (e.g. 'line 3,
    column dmos') otherwise. NaN and infinities count as malformed."""
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        raise DataError(f"{path}: {where}: score {str(text)!r} is not a number; {hint}") from None
    if math.isnan(value):
        raise DataError(f"{path}: {where}: score is empty or NaN; {hint}")
    if math.isinf(value):
        raise DataError(f"{path}: {where}: score {str(text).strip()!r} is not finite; {hint}")
    return value


def escapes_root(name: str) -> bool:
    """True when the '/'- or '\\'-separated path ``name`` could point outside the folder
    it is relative to: absolute ('/x', 'C:x', '\\\\server') or holding a '..' part."""
    posix = name.replace("\\", "/")
    return (posix.startswith("/") or (len(posix) > 1 and posix[1] == ":")
            or ".." in PurePosixPath(posix).parts)


class RowChecks:
    """The checks every row of a score file passes before it becomes a record: the
    score is finite and on the release's scale, the image path stays inside the release
    folder, and no image is listed twice. Each refusal is a DataError naming the file
    and the row (``where``: 'line 12', 'entry 8 of AllMOS_release', ...).

    path: the score file; hint: what the user should do; scale: (lowest, highest)
    score the release allows, or None when it has no fixed scale.
    """

    def __init__(self, path: Path, hint: str, scale: tuple[float, float] | None):
        self.path, self.hint, self.scale = Path(path), hint, scale
        self._seen: dict[str, str] = {}

    def score(self, value: float, where: str) -> float:
        """``value`` when finite and inside the scale; DataError otherwise."""
        value = float(value)
        if not math.isfinite(value):
            raise DataError(f"{self.path}: {where}: score {value} is not finite; {self.hint}")
        if self.scale is not None and not self.scale[0] <= value <= self.scale[1]:
            lo, hi = self.scale
            raise DataError(f"{self.path}: {where}: score {value:g} is outside the release's "
                            f"scale {lo:g} to {hi:g}; {self.hint}")
        return value

    def image(self, name: str, where: str, key: str | None = None) -> str:
        """``name`` when it is a relative path inside the release folder that no earlier
        row listed; DataError otherwise. key: the path duplicates are judged by (the name
        relative to the release root, when ``name`` is relative to a subfolder)."""
        if escapes_root(name):
            raise DataError(f"{self.path}: {where}: image path {name!r} leads outside the release "
                            "folder (absolute or with '..'); image paths must be relative to it")
        key = PurePosixPath((key or name).replace("\\", "/")).as_posix().lower()
        if key in self._seen:
            raise DataError(f"{self.path}: {where}: image {name!r} is listed again (first at "
                            f"{self._seen[key]}); remove the duplicate row")
        self._seen[key] = where
        return name


def read_csv_table(path: Path, required: Iterable[str], hint: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with a header, as (line number, {column: text}).

    Column names are stripped of spaces and a UTF-8 BOM; ``required`` columns are
    matched case-insensitively and returned under the spelling given in ``required``.
    Blank lines are skipped. DataError (naming the file) when the file cannot be read
    or a required column is missing.
    """
    path = Path(path)
    required = list(required)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: the file is empty; {hint}")
            header = [h.strip() for h in header]
            lower = {h.lower(): i for i, h in enumerate(header)}
            missing = [c for c in required if c.lower() not in lower]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)}); {hint}")
            names = list(header)
            for c in required:  # canonical spelling for required columns
                names[lower[c.lower()]] = c
            rows = []
            for line_no, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) < len(header):
                    cells = cells + [""] * (len(header) - len(cells))
                rows.append((line_no, {n: cells[i].strip() for i, n in enumerate(names)}))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the CSV file ({exc}); {hint}") from None


def read_image_score_csv(path: Path, hint: str, image_col: str = "image",
                         score_col: str = "score", scale: tuple[float, float] | None = None
                         ) -> list[tuple[str, float]]:
    """The (image, score) pairs of a two-column CSV with header ``image,score``.

    Image names are returned as written ('/'-separated; backslashes are turned into
    '/'); scores as floats on the file's own scale. DataError (naming the line) on a
    missing column, an empty image name, a non-numeric or non-finite score, a score
    outside ``scale`` (lowest, highest; None: any), a path leading outside the folder,
    a repeated image, or no rows at all.
    """
    checks = RowChecks(path, hint, scale)
    pairs = []
    for line_no, row in read_csv_table(path, [image_col, score_col], hint):
        name = row[image_col].replace("\\", "/")
        if not name:
            raise DataError(f"{path}: line {line_no}: empty {image_col} name; {hint}")
        where = f"line {line_no}"
        score = checks.score(to_float(row[score_col], path, where, hint), where)
        pairs.append((checks.image(name, where), score))
    if not pairs:
        raise DataError(f"{path}: the file holds no scores; {hint}")
    return pairs


def load_mat(path: Path, variables: Sequence[str], hint: str) -> dict:
    """The named variables of a MATLAB .mat file (read with scipy.io.loadmat).

    DataError when the file cannot be read (including MATLAB v7.3/HDF5 files, which
    scipy cannot open) or lacks one of ``variables``.
    """
    import scipy.io  # local: keep `import bench.data.loaders` light

    path = Path(path)
    try:
        content = scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 -- scipy raises ValueError, TypeError, OSError, NotImplementedError...
        raise DataError(f"{path}: cannot read the .mat file ({type(exc).__name__}: {exc}); {hint}") from None
    missing = [v for v in variables if v not in content]
    if missing:
        found = ", ".join(k for k in content if not k.startswith("__"))
        raise DataError(f"{path}: variable(s) {', '.join(missing)} not in the .mat file "
                        f"(found: {found}); {hint}")
    return {v: content[v] for v in variables}


def mat_strings(value, path: Path, name: str, hint: str) -> list[str]:
    """A MATLAB cell array (or char matrix) of names as a flat list of str, in order."""
    import numpy as np

    out: list[str] = []

    def walk(v) -> None:
        if isinstance(v, str):
            out.append(v.strip())
        elif isinstance(v, bytes):
            out.append(v.decode("latin-1").strip())
        elif isinstance(v, np.ndarray):
            if v.dtype.kind in "US":
                if v.ndim <= 1:
                    out.append("".join(str(x) for x in v.ravel()).strip())
                else:  # char matrix: one name per row
                    for row in v:
                        walk(row)
            elif v.dtype == object:
                for item in v.ravel(order="F"):
                    walk(item)
            else:
                raise DataError(f"{path}: variable {name} holds {v.dtype} values, "
                                f"not names; {hint}")
        else:
            raise DataError(f"{path}: variable {name} holds {type(v).__name__}, not names; {hint}")

    walk(value)
    return out


def mat_numbers(value, path: Path, name: str, hint: str) -> list[float]:
    """A MATLAB numeric vector or matrix as a flat list of floats (column-major order)."""
    import numpy as np

    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{path}: variable {name} is not numeric ({arr.dtype}); {hint}")
    return [float(x) for x in arr.ravel(order="F")]
