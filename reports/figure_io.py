"""Saving report figures: a figure file record, a new Agg figure, atomic PNG + PDF."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .io import write_atomic_with

FIGURE_FORMATS = ("png", "pdf")


@dataclass
class FigureFile:
    """One saved figure: paths relative to the report folder, and a caption."""

    caption: str
    png: str
    pdf: str = ""


def slug(*parts: object) -> str:
    """A file-name-safe stem from parts ('cis+l', 'syn-kadid' -> 'cis-plus-l_syn-kadid')."""
    text = "_".join(str(p) for p in parts if str(p) != "")
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text.replace("+", "-plus-"))


def _new_figure(width: float = 6.4, height: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, out_dir: Path, stem: str, caption: str) -> FigureFile:
    """Save ``fig`` as ``out_dir/stem.png`` and ``.pdf`` atomically; paths relative to ``out_dir``'s parent."""
    paths = {}
    for fmt in FIGURE_FORMATS:
        path = out_dir / f"{stem}.{fmt}"
        write_atomic_with(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=120))
        paths[fmt] = path.relative_to(out_dir.parent).as_posix()
    return FigureFile(caption, paths["png"], paths.get("pdf", ""))
