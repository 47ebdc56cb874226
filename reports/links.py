"""Links in the HTML the reporter writes: always a relative URL, ``./`` followed by the
percent-encoded path, so no folder or file name (a run folder named
``javascript:alert(1)``, say) can become a live scheme in an ``href`` or ``src``."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote


def url_path(relative: str | os.PathLike) -> str:
    """A relative path (``/``-separated, possibly ``..``) as a relative URL: ``./`` and each
    segment percent-encoded ('a b/c:d' -> './a%20b/c%3Ad')."""
    parts = Path(relative).as_posix().split("/")
    return "./" + "/".join(quote(p, safe="") for p in parts if p not in ("", "."))


def relative_url(target: str | os.PathLike, base: str | os.PathLike) -> str:
    """The URL of file or folder ``target`` from a page in folder ``base``: relative, as
    :func:`url_path` (a ``file:`` URL, percent-encoded, only when no relative path exists,
    as between two Windows drives)."""
    try:
        return url_path(os.path.relpath(Path(target).resolve(), Path(base).resolve()))
    except ValueError:
        return Path(target).resolve().as_uri()
