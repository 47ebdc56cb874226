"""Atomic file writes for the reporter: the engine's :mod:`bench.core.atomic`, a variant
for writers that need a file name (matplotlib's ``savefig``), and the whole report folder
written fresh and swapped in (:func:`fresh_folder`), so a crash never leaves new tables
beside an old index page and no stale file survives a new report."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.core.atomic import write_bytes_atomic


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; return the path."""
    write_bytes_atomic(Path(path), data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def write_atomic_with(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Call ``writer(tmp_path)`` to fill a temporary file, then move it onto ``path``.

    The temporary file keeps ``path``'s suffix, so writers that infer a format from the
    file name behave. On any error the temporary file is removed and ``path`` is left as
    it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


_REPORT_FILE = re.compile(r"^(index\.html|report\.(tex|md)|(table\d\d|fr\d\d_[A-Za-z0-9._+-]*)\.(tex|html|md))$")
_FIGURE_FILE = re.compile(r"^[A-Za-z0-9._+-]+\.(png|pdf)$")


def is_report_folder(folder: Path) -> bool:
    """Whether ``folder`` may be replaced by a new report: it holds nothing, or only files
    a report writes (tables, documents, index page, figures)."""
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.is_dir() and entry.name == "figures":
            if not all(f.is_file() and not f.is_symlink() and _FIGURE_FILE.match(f.name)
                       for f in entry.iterdir()):
                return False
        elif not (entry.is_file() and _REPORT_FILE.match(entry.name)):
            return False
    return True


def check_replaceable(out: Path) -> None:
    """UsageError (one line) unless ``out`` is absent or a report folder
    (:func:`is_report_folder`): a new report replaces the whole folder."""
    from bench.core.errors import UsageError

    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"--out {out} is not a folder; choose a folder for the report")
    if out.is_dir() and not is_report_folder(out):
        raise UsageError(f"--out {out} holds files a report does not write; a report replaces "
                         "its whole folder, so choose a new or empty folder (or a previous "
                         "report's)")


@contextlib.contextmanager
def fresh_folder(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a new hidden folder beside ``out`` to write a whole report into; when the
    block ends without error it replaces ``out`` (the previous report and any stale file in
    it are removed), and on error it is removed and ``out`` is left as it was. Call
    :func:`check_replaceable` first."""
    from bench.core.atomic import current_umask

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old: Path | None = None
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except BaseException:
        if old is not None and (old / out.name).exists() and not out.exists():
            os.replace(old / out.name, out)           # put the previous report back
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
