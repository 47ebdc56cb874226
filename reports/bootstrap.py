"""Bootstrap 95% intervals of SROCC and PLCC over test images, for the HTML report.

One run: its test images (the rows of its ``predictions.csv`` for the cell's target) are
resampled with replacement ``resamples`` times (default 1000) and the metric recomputed on
each resample; the interval is the 2.5th and 97.5th percentile of those replicates
(percentile bootstrap).

A cell aggregating several runs (seeds, fine-tune splits) shows the interval of the cell's
value, the mean over its runs: replicate ``b`` of the cell is the mean over the runs of
each run's replicate ``b``. Runs scored on the same test images (seeds of one fold, or
different methods on one split) use the same resampled indices, so their sampling noise
is shared rather than averaged away; runs on different images (fine-tune splits) are
resampled independently. The LODO AVERAGE cell is, in the same way, the mean over folds of
the fold cells' replicates. The interval describes the uncertainty that comes from the
finite test set only; the spread over seeds and splits is the cell's ``+- std``.

Everything is seeded: the indices of a run depend on ``seed`` and on its image list only,
so the same report is produced twice over the same runs.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_RESAMPLES = 1000
LEVEL = 0.95
METRICS = ("srocc", "plcc")
_CHUNK_ELEMENTS = 2_000_000   # resampled values held at once (memory bound)


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval ``[lo, hi]`` at ``level`` from ``resamples`` draws."""

    lo: float
    hi: float
    resamples: int
    level: float = LEVEL


@dataclass(frozen=True)
class Sample:
    """One run's scored test images: predictions, MOS and the image names (in file order)."""

    pred: np.ndarray
    mos: np.ndarray
    images: tuple[str, ...]


@lru_cache(maxsize=512)
def _read_csv(path: str):
    from bench.core.predictions_file import read_frame

    return read_frame(path)      # regular files only, size-capped, no repeated column


def read_sample(path: str | Path, target: str = "") -> Sample | None:
    """The rows of ``predictions.csv`` at ``path`` for ``target`` (all rows when the file
    has no ``target`` column or no row of that target); None when the file is missing,
    unreadable or has fewer than 3 rows."""
    try:
        df = _read_csv(str(path))
        if "target" in df.columns and target and (df["target"].astype(str) == target).any():
            df = df[df["target"].astype(str) == target]
        pred = df["prediction"].to_numpy(dtype=float)
        mos = df["mos"].to_numpy(dtype=float)
        images = tuple(df["image"].astype(str)) if "image" in df.columns else tuple(map(str, range(len(df))))
    except (OSError, KeyError, ValueError):      # BadPredictions is a ValueError
        return None
    ok = np.isfinite(pred) & np.isfinite(mos)
    if ok.sum() < 3:
        return None
    return Sample(pred[ok], mos[ok], tuple(np.asarray(images, dtype=object)[ok]))


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``x`` with the same row of ``y`` (NaN if constant)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    num = (x * y).sum(axis=1)
    den = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r[~(den > 1e-15)] = np.nan
    return r


def resample_indices(images: tuple[str, ...], resamples: int, seed: int = 0) -> np.ndarray:
    """``resamples`` x N indices drawn with replacement; identical image lists (and seeds)
    give identical indices, so runs on the same test images are resampled jointly."""
    key = zlib.crc32("\n".join(sorted(images)).encode())
    rng = np.random.default_rng([seed, key, len(images)])
    order = np.argsort(np.asarray(images, dtype=object), kind="stable")   # name order, not file order
    return order[rng.integers(0, len(images), size=(resamples, len(images)))]


def replicates(sample: Sample, metric: str, resamples: int = DEFAULT_RESAMPLES,
               seed: int = 0) -> np.ndarray:
    """The metric ('srocc' or 'plcc') on each of ``resamples`` bootstrap resamples of the
    sample's test images (NaN where a resample is constant)."""
    from scipy.stats import rankdata

    if metric not in METRICS:
        raise ValueError(f"bootstrap metric must be one of {METRICS}, not '{metric}'")
    idx = resample_indices(sample.images, resamples, seed)
    out = np.empty(resamples)
    step = max(1, _CHUNK_ELEMENTS // max(1, len(sample.images)))
    for start in range(0, resamples, step):
        block = idx[start:start + step]
        p, m = sample.pred[block], sample.mos[block]
        if metric == "srocc":
            p, m = rankdata(p, axis=1), rankdata(m, axis=1)
        out[start:start + step] = _rowwise_pearson(p, m)
    return out


def percentile_interval(reps: np.ndarray, resamples: int, level: float = LEVEL) -> Interval | None:
    """The percentile interval of replicates ``reps`` (NaN replicates dropped); None when
    fewer than half of them are finite."""
    finite = reps[np.isfinite(reps)]
    if finite.size < max(2, reps.size // 2):
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(float(lo), float(hi), resamples, level)


def bootstrap_interval(sample: Sample, metric: str, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = 0, level: float = LEVEL) -> Interval | None:
    """The bootstrap interval of one run's metric over its test images."""
    return percentile_interval(replicates(sample, metric, resamples, seed), resamples, level)


def pooled_interval(groups: list[list[Sample]], metric: str, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0, level: float = LEVEL) -> Interval | None:
    """The interval of a mean of means: replicate b = mean over groups of (mean over the
    group's runs of each run's replicate b). One group of one run is the plain interval;
    one group of several runs is a cell over seeds/splits; several groups is a LODO AVERAGE.
    None when a group has no sample."""
    if not groups or any(not g for g in groups):
        return None
    cache: dict[tuple, np.ndarray] = {}

    def reps(s: Sample) -> np.ndarray:
        key = (id(s.pred), id(s.mos))
        if key not in cache:
            cache[key] = replicates(s, metric, resamples, seed)
        return cache[key]

    with np.errstate(invalid="ignore"):
        per_group = [np.mean([reps(s) for s in g], axis=0) for g in groups]
        cell = np.mean(per_group, axis=0)
    return percentile_interval(cell, resamples, level)


def attach_intervals(grids, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[int, int]:
    """Set ``cell.ci`` on every measured SROCC/PLCC cell of ``grids`` whose runs' predictions
    can be read. Returns (cells given an interval, measured cells left without one)."""
    done = skipped = 0
    for grid in grids:
        for row in grid.rows:
            for cell in row.cells:
                if cell.source != "measured" or cell.value is None or cell.metric not in METRICS:
                    continue
                groups = [[s for s in (read_sample(p, t) for p, t in runs) if s is not None]
                          for runs in cell.parts]
                complete = all(len(g) == len(runs) for g, runs in zip(groups, cell.parts))
                ci = pooled_interval(groups, cell.metric, resamples, seed) if complete else None
                if ci is None or math.isnan(ci.lo):
                    skipped += 1
                    continue
                cell.ci = ci
                done += 1
    return done, skipped


def describe(resamples: int = DEFAULT_RESAMPLES, level: float = LEVEL) -> str:
    """One sentence for the HTML report saying what the bracketed intervals are."""
    return (f"[lo, hi] under a measured value: percentile bootstrap {level:.0%} interval over "
            f"test images ({resamples} resamples); for a cell over several runs, the interval "
            "of their mean (runs on the same test images resampled jointly); for AVERAGE, of "
            "the mean over folds. It reflects the finite test set only; +- is the spread "
            "over seeds/splits.")
