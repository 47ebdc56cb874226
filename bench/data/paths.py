"""Where the harness keeps generated data (``$BENCH_CACHE``, else the user cache folder),
and the guard every write or delete in it goes through: :func:`owned_path`."""
from __future__ import annotations

import numbers
import os
from pathlib import Path

from ..core.errors import BenchError, UsageError


def cache_root() -> Path:
    """The cache directory (created if missing): $BENCH_CACHE, else
    $XDG_CACHE_HOME/iqa-bench, else ~/.cache/iqa-bench."""
    env = os.environ.get("BENCH_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base) / "iqa-bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def owned_path(root: Path, *parts: str) -> Path:
    """``root / parts``, resolved (symlinks and '..' followed), checked to lie strictly
    inside ``root`` (resolved too): the only kind of path the data layer writes or deletes.

    A BenchError (one line, naming both) when it would land outside ``root`` or on
    ``root`` itself, e.g. for a part holding '../' or an absolute path."""
    base = Path(root).resolve()
    target = base.joinpath(*(str(p) for p in parts)).resolve()
    if target == base or base not in target.parents:
        shown = "/".join(str(p) for p in parts)
        raise BenchError(f"refusing to write or delete {target}: '{shown}' leads outside the "
                         f"folder the harness owns ({base}); check the value that named it")
    return target


def check_seed(seed, key: str = "data.synthetic_seed") -> int:
    """``seed`` as an int when it is a non-negative integer (a bool or a string is not);
    a UsageError naming ``key`` otherwise. Seeds go into cache folder names."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UsageError(f"{key} must be a non-negative integer, not {seed!r}")
    return int(seed)


def files_match(folder: Path, files: dict) -> bool:
    """True when every ``relative path -> blake2b-128 hex digest`` of a manifest's
    ``files`` names a file inside ``folder`` (:func:`owned_path`) whose bytes hash to it;
    False on a missing file, a path outside ``folder`` or a changed file."""
    import hashlib

    for rel, digest in files.items():
        try:
            data = owned_path(folder, rel).read_bytes()
        except (OSError, BenchError):
            return False
        if hashlib.blake2b(data, digest_size=16).hexdigest() != digest:
            return False
    return True
