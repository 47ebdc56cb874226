"""Where the harness keeps generated data: ``$BENCH_CACHE``, else the user cache folder."""
from __future__ import annotations

import os
from pathlib import Path


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
