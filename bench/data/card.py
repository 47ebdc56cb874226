"""The data card of a dataset: does each distortion type carry a quality signal?

For any dataset with distortion type and level labels (the synthetic suite, KADID-10k,
TID2013), per type: the Spearman correlation between level and MOS within each
(reference, type) pair, averaged over references (a faithful type gives about -1: more
distortion, lower quality), how many pairs give two levels the same MOS (ties) or let
the MOS rise from one level to the next (reversals), and the spread of the MOS; for the
whole set the (type, level) oracle SROCC (each image predicted by the mean MOS of its
(type, level) cell: how much of the ranking type and level alone explain), the number of
references, how many are in colour and how many span the full 0..255 range. Rendered as
text (:func:`card_text`) and as a JSON-ready dict (:func:`card_json`).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .records import Dataset

#: two MOS values closer than this (on the 0-1 scale) count as a tie
TIE_TOL = 1e-4
#: a reference counts as colour when its mean CIELAB chroma C*ab is at least this
COLOUR_CHROMA = 4.0


@dataclass
class TypeCard:
    """One distortion type. level_srocc: mean over (reference, type) pairs with at least
    two levels of Spearman(level, MOS) (a pair whose MOS is constant counts 0), None
    without levels; ties / reversals: pairs with two levels within TIE_TOL / with a level
    step on which the MOS rises by more than TIE_TOL; pairs: pairs with two levels or more;
    mos_*: mean, standard deviation, minimum and maximum MOS of the type's images."""

    type: str
    images: int
    pairs: int
    level_srocc: Optional[float]
    ties: int
    reversals: int
    mos_mean: float
    mos_sd: float
    mos_min: float
    mos_max: float


@dataclass
class Card:
    """The card of one dataset (see the module docstring). colour_refs / full_range_refs
    are None when the reference images are not on disk; oracle_srocc is None without
    type and level labels."""

    name: str
    images: int
    refs: int
    colour_refs: Optional[int]
    full_range_refs: Optional[int]
    levels: int
    oracle_srocc: Optional[float]
    label_source: tuple
    types: list = field(default_factory=list)
    tie_tol: float = TIE_TOL


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    if np.ptp(y) == 0 or np.ptp(x) == 0:
        return 0.0
    return float(spearmanr(x, y)[0])


def _level_means(records) -> dict:
    """{(ref, type): {level: mean MOS}} over records with a reference, type and level."""
    cells: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.ref is not None and r.dist_type is not None and r.level is not None:
            cells[(r.ref, r.dist_type)][r.level].append(r.mos)
    return {k: {lv: float(np.mean(v)) for lv, v in d.items()} for k, d in cells.items()}


def type_card(name: str, records, pairs: dict, tol: float = TIE_TOL) -> TypeCard:
    """The :class:`TypeCard` of type ``name`` from its records and its (ref, type) level
    means ``pairs`` ({(ref, type): {level: MOS}}, this type's only)."""
    mos = np.array([r.mos for r in records], dtype=np.float64)
    rhos, ties, reversals = [], 0, 0
    for by_level in pairs.values():
        if len(by_level) < 2:
            continue
        levels = sorted(by_level)
        vals = np.array([by_level[lv] for lv in levels])
        rhos.append(_spearman(levels, vals))
        gaps = np.abs(vals[:, None] - vals[None, :])[np.triu_indices(len(vals), 1)]
        ties += bool((gaps < tol).any())
        reversals += bool((np.diff(vals) > tol).any())
    return TypeCard(name, len(records), len(rhos), float(np.mean(rhos)) if rhos else None,
                    ties, reversals, float(mos.mean()), float(mos.std()), float(mos.min()),
                    float(mos.max()))


def oracle_srocc(records) -> Optional[float]:
    """SROCC between the MOS and the mean MOS of each image's (type, level) cell, over
    the records that have both labels; None when fewer than two cells exist."""
    labelled = [r for r in records if r.dist_type is not None and r.level is not None]
    cells: dict = defaultdict(list)
    for r in labelled:
        cells[(r.dist_type, r.level)].append(r.mos)
    if len(cells) < 2:
        return None
    means = {k: float(np.mean(v)) for k, v in cells.items()}
    pred = [means[(r.dist_type, r.level)] for r in labelled]
    return _spearman(pred, [r.mos for r in labelled])


def reference_colour(path: Path) -> tuple[bool, bool]:
    """(in colour, spans 0..255) for the image at ``path``: colour when its mean CIELAB
    chroma (sRGB, D65; computed on a copy at most 128 px on a side) is at least
    COLOUR_CHROMA; full range when its darkest and brightest channel values are 0 and 255."""
    from PIL import Image
    from skimage.color import rgb2lab

    with Image.open(path) as im:
        rgb = im.convert("RGB")
        lo, hi = min(b[0] for b in rgb.getextrema()), max(b[1] for b in rgb.getextrema())
        rgb.thumbnail((128, 128))
        lab = rgb2lab(np.asarray(rgb, dtype=np.float64) / 255.0)
    chroma = float(np.hypot(lab[..., 1], lab[..., 2]).mean())
    return chroma >= COLOUR_CHROMA, (lo, hi) == (0, 255)


def _reference_counts(ds: Dataset) -> tuple[Optional[int], Optional[int]]:
    paths = {r.ref: ds.root / r.ref_image for r in ds.records if r.ref and r.ref_image}
    if not paths or len(paths) < len(ds.refs()) or not all(p.is_file() for p in paths.values()):
        return None, None
    flags = [reference_colour(p) for p in paths.values()]
    return sum(c for c, _ in flags), sum(f for _, f in flags)


def data_card(ds: Dataset, tol: float = TIE_TOL, references: bool = True) -> Card:
    """The :class:`Card` of dataset ``ds``. ``references``: open the reference images to
    count colour and full-range ones (False: leave those None)."""
    by_type: dict = defaultdict(list)
    for r in ds.records:
        if r.dist_type is not None:
            by_type[r.dist_type].append(r)
    pairs = _level_means(ds.records)
    types = [type_card(t, by_type[t], {k: v for k, v in pairs.items() if k[1] == t}, tol)
             for t in ds.types()]
    colour, full = _reference_counts(ds) if references else (None, None)
    levels = len({r.level for r in ds.records if r.level is not None})
    return Card(ds.name, len(ds), len(ds.refs()), colour, full, levels, oracle_srocc(ds.records),
                tuple(ds.label_source), types, tol)


def card_json(card: Card) -> dict:
    """The card as a JSON-ready dict (types as a list of dicts, NaN-free)."""
    out = asdict(card)
    out["label_source"] = list(card.label_source)
    out["colour_share"] = (card.colour_refs / card.refs) if card.refs and card.colour_refs is not None else None
    return out


def _fmt(x: Optional[float], spec: str = "+.3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def card_text(card: Card) -> str:
    """The card as an aligned text table (one line per type, then a summary line)."""
    source = ("pseudo-MOS from " + "+".join(card.label_source)) if card.label_source else "human scores"
    refs = f"{card.refs} references"
    if card.colour_refs is not None:
        refs += (f", {card.colour_refs} in colour ({100.0 * card.colour_refs / max(card.refs, 1):.0f} %),"
                 f" {card.full_range_refs} spanning 0..255")
    lines = [f"data card: {card.name}: {card.images} images, {refs}; {len(card.types)} types x "
             f"{card.levels} levels; scores: {source}",
             f"(type, level) oracle SROCC: {_fmt(card.oracle_srocc, '.3f')}  "
             f"(ties: two levels of a (reference, type) within {card.tie_tol:g} MOS)",
             f"{'type':<13}{'images':>7}{'pairs':>7}{'level~MOS':>11}{'ties':>6}{'revers.':>9}"
             f"{'MOS mean':>10}{'sd':>7}{'min':>7}{'max':>7}"]
    for t in card.types:
        lines.append(f"{t.type:<13}{t.images:>7}{t.pairs:>7}{_fmt(t.level_srocc):>11}{t.ties:>6}"
                     f"{t.reversals:>9}{t.mos_mean:>10.3f}{t.mos_sd:>7.3f}{t.mos_min:>7.3f}{t.mos_max:>7.3f}")
    rated = [t for t in card.types if t.level_srocc is not None]
    if rated:
        worst = max(rated, key=lambda t: t.level_srocc)
        lines.append(f"weakest type {worst.type} at {worst.level_srocc:+.3f}; {sum(t.ties for t in rated)} "
                     f"tied and {sum(t.reversals for t in rated)} reversed (reference, type) pairs "
                     f"of {sum(t.pairs for t in rated)}")
    else:
        lines.append("no (reference, type) pairs with levels: the per-type level columns are n/a")
    return "\n".join(lines)
