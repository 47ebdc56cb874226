"""Atomic file writes for the reporter: the engine's :mod:`bench.core.atomic`, plus a
variant for writers that need a file name (matplotlib's ``savefig``)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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
