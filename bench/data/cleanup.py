"""Removing what the cache no longer needs, without ever touching what another process
is using or anything outside the cache.

Every removal goes through :func:`remove_owned` (the path is checked with
:func:`~bench.data.paths.owned_path` first) and happens only while the lock that guards
the thing can be taken WITHOUT waiting (:func:`try_lock`): a process generating a suite
or decoding an array holds that lock, so its work in progress is never removed. A
process killed mid-work loses its lock with it (flock locks die with their holder), so
its leftovers become removable at once.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from ..core.atomic import try_lock
from .paths import owned_path


def remove_owned(root: Path, *parts: str) -> bool:
    """Delete ``root/parts`` (a file, or a folder with its contents) after checking that
    it lies inside ``root``; True when something was removed. A symbolic link is removed
    itself (its folder must lie inside ``root``), never what it points to."""
    link = Path(root).resolve().joinpath(*(str(p) for p in parts))
    if link.is_symlink():
        owned_path(root, *parts[:-1], "_")  # raises unless the link's folder is inside root
        link.unlink()
        return True
    target = owned_path(root, *parts)
    if target.is_dir():
        shutil.rmtree(target)
        return True
    try:
        target.unlink()
        return True
    except FileNotFoundError:
        return False


def sweep_suite_leftovers(synthetic: Path, log: Callable[[str], None] = print,
                          pattern: str = ".v*-seed*.tmp") -> list[str]:
    """Remove ``.v<V>-seed<S>.tmp`` folders (or others matching the glob ``pattern``,
    each ``.<name>.tmp`` guarded by the lock ``.<name>.lock``) under ``synthetic`` (the
    cache's suite folder) left by an interrupted generation, each only while its suite's
    lock is free. Returns the names removed."""
    removed = []
    for tmp in sorted(Path(synthetic).glob(pattern)):
        name = tmp.name[1:-len(".tmp")]
        with try_lock(owned_path(synthetic, f".{name}.lock")) as free:
            if free and remove_owned(synthetic, tmp.name):
                removed.append(tmp.name)
    if removed:
        log(f"removed {len(removed)} unfinished suite generation(s) from {synthetic}: {', '.join(removed)}")
    return removed
