"""Recompute a record's correlations from its ``predictions.csv`` and say whether they agree
with what ``metrics.json`` states, allowing exactly what the file's rounding can explain.

The runner computes SROCC, PLCC and KRCC from full-precision predictions and writes them
with 6 decimals, so a recomputation from the file may differ: PLCC by at most about
1e-6 / (standard deviation) per column, and the rank correlations wherever rounding made
two values equal (two predictions 3e-7 apart, e.g. of a model that collapsed to a near
constant). :func:`mismatches` allows exactly that: PLCC within the rounding bound, SROCC
and KRCC within the range that the orders hidden by ties span (both extreme tie breakings);
without ties that is ~1e-9, so an edited number is caught.

The logistic-fit PLCC is not recomputed: one fit costs ~10 ms, 20 times a whole
`leaderboard` read of a run folder; it is an extra column that nothing ranks on.

Costs at 60 images: ~60 us a target (numpy; scipy's functions cost ~230 us each).
"""
from __future__ import annotations

import math

import numpy as np

_EXACT = 1e-9          # float noise of two computations of one formula
_KENDALL_DIRECT = 200  # up to this n the O(n^2) form in numpy beats scipy's call overhead


def average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ranks 1..n with ties averaged, sizes of the groups of equal values) of a 1-D array."""
    n = len(x)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    cuts = np.flatnonzero(xs[1:] != xs[:-1]) + 1
    starts, ends = np.empty(len(cuts) + 1, dtype=np.int64), np.empty(len(cuts) + 1, dtype=np.int64)
    starts[0], starts[1:], ends[:-1], ends[-1] = 0, cuts, cuts, n
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks, ends - starts


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN for fewer than 2 values or a constant column."""
    if len(a) < 2:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    saa, sbb = float(a @ a), float(b @ b)
    if saa == 0 or sbb == 0:
        return math.nan
    return max(-1.0, min(1.0, float(a @ b) / math.sqrt(saa * sbb)))


def kendall_tau_b(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (scipy's default); NaN for fewer than 2 values or a constant column."""
    n = len(a)
    if n < 2 or a.min() == a.max() or b.min() == b.max():
        return math.nan
    if n > _KENDALL_DIRECT:
        from scipy import stats

        return float(stats.kendalltau(a, b)[0])
    sa = np.sign(a[:, None] - a[None, :])
    sb = np.sign(b[:, None] - b[None, :])
    pairs = n * (n - 1) / 2
    s = float((sa * sb).sum()) / 2
    tied_a = (n * n - np.count_nonzero(sa) - n) / 2
    tied_b = (n * n - np.count_nonzero(sb) - n) / 2
    return float(np.clip(s / math.sqrt((pairs - tied_a) * (pairs - tied_b)), -1.0, 1.0))


def _broken_ties(pred: np.ndarray, mos: np.ndarray, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal ranks of ``pred`` and ``mos`` with every tie broken in agreement with the
    other column (sign +1) or against it (sign -1): the two orders of distinct values that
    rounding to equal ones may have hidden which move a rank correlation furthest."""
    n = len(pred)
    idx = np.arange(n)
    rp, rm = np.empty(n), np.empty(n)
    rp[np.lexsort((idx, sign * mos, pred))] = idx + 1
    rm[np.lexsort((sign * idx, sign * pred, mos))] = idx + 1
    return rp, rm


def _rank_ranges(pred, mos, got: dict) -> dict[str, tuple[float, float]]:
    """(lowest, highest) SROCC and KRCC that the unrounded values may have had, given ties
    in the rounded ones: the tie-averaged value and both extreme tie breakings."""
    out = {k: [got[k], got[k]] for k in ("srocc", "krcc")}
    for sign in (1, -1):
        rp, rm = _broken_ties(pred, mos, sign)
        for key, value in (("srocc", pearson(rp, rm)), ("krcc", kendall_tau_b(rp, rm))):
            out[key] = [min(out[key][0], value), max(out[key][1], value)]
    return {k: (lo, hi) for k, (lo, hi) in out.items()}


def correlations(pred: np.ndarray, mos: np.ndarray) -> dict[str, float]:
    """SROCC, PLCC and KRCC of one target's rows (as bench.core.metrics computes them)."""
    return _with_ties(pred, mos)[0]


def _with_ties(pred: np.ndarray, mos: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    rp, gp = average_ranks(pred)
    rm, gm = average_ranks(mos)
    got = {"srocc": pearson(rp, rm), "plcc": pearson(pred, mos), "krcc": kendall_tau_b(pred, mos)}
    return got, gp, gm


def mismatches(stated: dict, pred: np.ndarray, mos: np.ndarray) -> list[str]:
    """What in ``stated`` (a record's metrics of one target: srocc, plcc, krcc, n) the rows
    ``pred``/``mos`` do not reproduce, as 'srocc 0.9900 stated, 0.5074 from the
    predictions'; empty when everything agrees within what rounding explains."""
    n = len(pred)
    if int(stated["n"]) != n:
        return [f"n = {stated['n']} stated, {n} rows in predictions.csv"]
    got, gp, gm = _with_ties(pred, mos)
    sd = [math.sqrt(float(c @ c) / n) for c in (pred - pred.mean(), mos - mos.mean())]
    slack = sum(4e-6 / s if s > 0 else math.inf for s in sd)
    allowed = {"plcc": (got["plcc"] - slack, got["plcc"] + slack)}
    tied = len(gp) < n or len(gm) < n
    allowed.update(_rank_ranges(pred, mos, got) if tied and n >= 2 and len(gp) > 1 and len(gm) > 1
                   else {k: (got[k], got[k]) for k in ("srocc", "krcc")})
    out = []
    for key, value in got.items():
        want = float(stated[key])
        if math.isnan(value) and (len(gp) == 1 or len(gm) == 1) and n >= 2:
            continue            # constant once rounded: any stated value may be the unrounded one
        if math.isnan(want) and math.isnan(value):
            continue
        lo, hi = allowed[key]
        if math.isnan(want) or math.isnan(value) or not lo - _EXACT <= want <= hi + _EXACT:
            out.append(f"{key} {want:.4f} stated, {value:.4f} from the predictions")
    return out
