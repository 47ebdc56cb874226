"""The one sanitiser for text read from run folders and shown to a person: every reader
applies :func:`clean` when it reads a record or a config (names, folds, targets, settings),
and every renderer (terminal, Markdown, HTML, LaTeX, matplotlib) applies it again to what
it prints, so text that did not come through a reader is safe as well (it is idempotent).

:func:`clean` drops control and format characters (terminal escape sequences, bidi
overrides, zero-width characters), turns every run of whitespace (newlines included) into
one space and caps the length, so a hostile or broken name can neither restyle a terminal,
break a table row, nor make a renderer work on megabytes. Each format's own escaping
(HTML entities, LaTeX specials, Markdown pipes) comes after it; :func:`for_matplotlib`
also escapes ``$``, which matplotlib would otherwise parse as mathtext.
"""
from __future__ import annotations

import unicodedata

LIMIT = 160                 # characters kept of one name
ELLIPSIS = "..."
_DROPPED = frozenset(("Cc", "Cf", "Cs", "Cn"))   # control, format (bidi), surrogate, unassigned


def clean(text: object, limit: int = LIMIT) -> str:
    """``text`` as one safe line: control/format characters dropped, whitespace runs
    collapsed to one space, stripped, at most ``limit`` characters (cut with '...')."""
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit and s.isascii() and s.isprintable() and "  " not in s and s == s.strip():
        return s                                   # the common case: nothing to do
    s = s[: limit * 4 + 64]                        # bounded work on any input
    kept = [" " if ch.isspace() else ch for ch in s
            if ch.isspace() or unicodedata.category(ch) not in _DROPPED]
    s = " ".join("".join(kept).split())
    return s if len(s) <= limit else s[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def for_matplotlib(text: object, limit: int = LIMIT) -> str:
    """:func:`clean` text with every ``$`` escaped, so matplotlib draws it literally
    instead of parsing mathtext."""
    return clean(text, limit).replace("$", r"\$")
