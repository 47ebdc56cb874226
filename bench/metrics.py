"""Correlation metrics between predictions and MOS: SROCC and PLCC as the paper reports
them (raw PLCC, no fitting), plus KRCC and PLCC after the VQEG 4-parameter logistic fit."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import optimize, stats


def _clean(pred, mos) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    m = np.asarray(mos, dtype=np.float64).reshape(-1)
    if p.shape != m.shape:
        raise ValueError(f"predictions ({p.size}) and MOS ({m.size}) differ in length")
    return p, m


def _corr(fn, p, m) -> float:
    if p.size < 2 or np.ptp(p) == 0 or np.ptp(m) == 0:
        return float("nan")  # undefined for constant inputs; reported as NaN, not 0
    return float(fn(p, m)[0])


def srocc(pred, mos) -> float:
    """Spearman rank-order correlation of two length-N sequences."""
    return _corr(stats.spearmanr, *_clean(pred, mos))


def plcc(pred, mos) -> float:
    """Pearson linear correlation, no fitting (as the paper)."""
    return _corr(stats.pearsonr, *_clean(pred, mos))


def krcc(pred, mos) -> float:
    """Kendall rank correlation (tau-b)."""
    return _corr(stats.kendalltau, *_clean(pred, mos))


def logistic4(x, b1, b2, b3, b4):
    """VQEG 4-parameter logistic: (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2."""
    with np.errstate(over="ignore"):
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / (abs(b4) + 1e-12))) + b2


def plcc_logistic(pred, mos) -> float:
    """PLCC after fitting the 4-parameter logistic from predictions to MOS; falls back to
    raw PLCC when the fit does not converge."""
    p, m = _clean(pred, mos)
    if p.size < 5 or np.ptp(p) == 0:
        return plcc(p, m)
    init = [m.max(), m.min(), float(np.mean(p)), float(np.std(p)) or 1.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(logistic4, p, m, p0=init, maxfev=10000)
        fitted = logistic4(p, *params)
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return plcc(p, m)
    value = plcc(fitted, m)
    return plcc(p, m) if math.isnan(value) else value


def all_metrics(pred, mos) -> dict[str, float]:
    """{'srocc', 'plcc', 'krcc', 'plcc_logistic', 'n'} for one test set."""
    p, m = _clean(pred, mos)
    return {"srocc": srocc(p, m), "plcc": plcc(p, m), "krcc": krcc(p, m),
            "plcc_logistic": plcc_logistic(p, m), "n": int(p.size)}
