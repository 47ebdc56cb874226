"""Correlation metrics between predictions and MOS: SROCC and PLCC as the paper reports
them (raw PLCC, no fitting), plus KRCC and PLCC after a logistic fit (the extra column).

Logistic PLCC: predictions are mapped to MOS by a logistic fitted by least squares, and
the PLCC of the fitted values with MOS is reported. Two forms:

- ``"sheikh5"`` (the default; Sheikh, Sabir & Bovik 2006, the LIVE standard):
  ``b1 (1/2 - 1 / (1 + exp(b2 (x - b3)))) + b4 x + b5``;
- ``"vqeg4"`` (VQEG 2000): ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``.

How it is fitted: predictions are standardised (zero mean, unit SD), so the fit does not
depend on their scale. Both forms are linear in all parameters but the centre b3 and the
slope (1/|b4|, b2), so for a given (centre, slope) the others are solved exactly by linear
least squares (variable projection); the (centre, slope) pair is searched on a grid (the
"several starts": centres over the range of the predictions plus a margin, slopes from
nearly linear to nearly a step, both directions as the linear part takes either sign) and
the best grid point is refined by a bounded Nelder-Mead search. Bounds: centre within
[min - CENTRE_MARGIN, max + CENTRE_MARGIN] and slope within [MIN_SLOPE, MAX_SLOPE] per SD
of the predictions: the least-squares optimum of a logistic is often at infinity (a step,
or an exponential tail far outside the data), which is no fit to report.

A fitted curve also follows noise: on unrelated predictions and MOS (Gaussian, n = 60) the
logistic PLCC was 0.42 (sheikh5) and 0.37 (vqeg4) against a raw PLCC of 0.06; at n = 200,
0.20 and 0.19. Read it beside the raw PLCC, never alone, on small test sets.

When the fit is impossible the result is NaN, never another quantity: fewer points than
parameters + 1 (a fit through every point has PLCC 1 by construction), constant or
non-finite predictions or MOS, or no finite fit. :func:`count_failed_fits` counts those
NaNs over a list of :func:`all_metrics` results so callers can report them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

LOGISTICS = ("sheikh5", "vqeg4")
DEFAULT_LOGISTIC = "sheikh5"
N_PARAMS = {"sheikh5": 5, "vqeg4": 4}
MIN_SLOPE, MAX_SLOPE = 0.05, 50.0   # logistic slope per SD of the predictions
CENTRE_MARGIN = 2.0                 # SDs the centre may lie outside the predictions' range
GRID_CENTRES, GRID_SLOPES = 21, 13


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
    return (b1 - b2) * special.expit((x - b3) / (abs(b4) + 1e-12)) + b2


def logistic5(x, b1, b2, b3, b4, b5):
    """Sheikh et al. (2006) 5-parameter logistic: b1 (1/2 - 1/(1 + exp(b2 (x - b3)))) + b4 x + b5."""
    return b1 * (0.5 - special.expit(-b2 * (x - b3))) + b4 * x + b5


def _design(logistic: str, z: np.ndarray, centre: float, slope: float) -> np.ndarray:
    """The columns the logistic is linear in, for a given centre and slope (N x 2 or 3)."""
    if logistic == "vqeg4":  # b2 + (b1 - b2) * expit(slope (z - centre))
        return np.stack([np.ones_like(z), special.expit(slope * (z - centre))], axis=1)
    return np.stack([0.5 - special.expit(-slope * (z - centre)), z, np.ones_like(z)], axis=1)


def _projected(logistic: str, z, m, centre: float, slope: float) -> tuple[float, np.ndarray]:
    """(squared error, linear coefficients) of the best fit with this centre and slope."""
    x = _design(logistic, z, centre, slope)
    coef = np.linalg.lstsq(x, m, rcond=None)[0]
    resid = x @ coef - m
    return float(resid @ resid), coef


def _params(logistic: str, centre: float, slope: float, coef: np.ndarray) -> tuple:
    """The named form's parameters (on standardised predictions) from a projected fit."""
    if logistic == "vqeg4":
        low, span = coef
        return (float(low + span), float(low), centre, 1.0 / slope)
    b1, b4, b5 = coef
    return (float(b1), slope, centre, float(b4), float(b5))


@dataclass(frozen=True)
class LogisticFit:
    """Result of one logistic fit: ``value`` is the PLCC of the fitted values with MOS
    (NaN when the fit is impossible, ``reason`` then says why), ``params`` the named form's
    parameters b1.. on standardised predictions, ``sse`` the fit's squared error."""

    logistic: str
    value: float
    params: tuple = ()
    sse: float = float("nan")
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the fit succeeded (``value`` is a number)."""
        return not math.isnan(self.value)


def fit_logistic(pred, mos, logistic: str = DEFAULT_LOGISTIC) -> LogisticFit:
    """Fit ``logistic`` ("sheikh5" or "vqeg4") from length-N predictions to MOS (see the
    module docstring); NaN with a reason when the fit is impossible."""
    if logistic not in LOGISTICS:
        raise ValueError(f"logistic must be one of {', '.join(LOGISTICS)}, not {logistic!r}")
    p, m = _clean(pred, mos)
    nan = float("nan")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(m))):
        return LogisticFit(logistic, nan, reason="non-finite predictions or MOS")
    k = N_PARAMS[logistic]
    if p.size < k + 1:
        return LogisticFit(logistic, nan, reason=f"n = {p.size} < {k + 1} points for {k} parameters")
    if np.ptp(p) == 0 or np.ptp(m) == 0:
        return LogisticFit(logistic, nan, reason="constant predictions or MOS")
    z = (p - p.mean()) / p.std()
    c_lo, c_hi = float(z.min()) - CENTRE_MARGIN, float(z.max()) + CENTRE_MARGIN
    log_s = (math.log(MIN_SLOPE), math.log(MAX_SLOPE))
    grid = [(c, ls) for c in np.linspace(c_lo, c_hi, GRID_CENTRES)
            for ls in np.linspace(*log_s, GRID_SLOPES)]
    sse_of = lambda v: _projected(logistic, z, m, v[0], math.exp(v[1]))[0]
    with np.errstate(all="ignore"):
        start = min(grid, key=sse_of)
        fit = optimize.minimize(sse_of, np.array(start), method="Nelder-Mead",
                                bounds=[(c_lo, c_hi), log_s],
                                options={"xatol": 1e-4, "fatol": 1e-10, "maxiter": 400})
        best = fit.x if fit.fun <= sse_of(start) else np.array(start)
        centre, slope = float(best[0]), math.exp(float(best[1]))
        sse, coef = _projected(logistic, z, m, centre, slope)
        fitted = _design(logistic, z, centre, slope) @ coef
    if not (math.isfinite(sse) and np.all(np.isfinite(fitted))):
        return LogisticFit(logistic, nan, reason="no finite fit")
    value = plcc(fitted, m)
    params = _params(logistic, centre, slope, coef)
    return LogisticFit(logistic, value, params, sse,
                       reason="fitted values constant" if math.isnan(value) else "")


def plcc_logistic(pred, mos, logistic: str = DEFAULT_LOGISTIC) -> float:
    """PLCC after fitting ``logistic`` from predictions to MOS (see the module docstring);
    NaN when the fit is impossible (n too small, constant input, no finite fit)."""
    return fit_logistic(pred, mos, logistic).value


def all_metrics(pred, mos, logistic: str = DEFAULT_LOGISTIC) -> dict[str, float]:
    """{'srocc', 'plcc', 'krcc', 'plcc_logistic', 'n'} for one test set of N predictions
    and MOS; 'plcc_logistic' uses ``logistic`` and is NaN when its fit is impossible."""
    p, m = _clean(pred, mos)
    return {"srocc": srocc(p, m), "plcc": plcc(p, m), "krcc": krcc(p, m),
            "plcc_logistic": plcc_logistic(p, m, logistic), "n": int(p.size)}


def collapse_of(pred) -> str | None:
    """Why ``pred`` (N predictions) is a collapsed fit: 'non-finite' (a NaN or infinite
    prediction), 'constant' (all equal at the 6 decimals predictions.csv keeps, so no
    correlation is defined), or None when the predictions vary."""
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    if not np.isfinite(p).all():
        return "non-finite"
    if p.size and np.ptp(np.round(p, 6)) == 0:
        return "constant"
    return None


def count_failed_fits(results: Iterable[dict]) -> int:
    """How many :func:`all_metrics` results have a NaN 'plcc_logistic' (failed fits)."""
    return sum(1 for r in results if math.isnan(float(r.get("plcc_logistic", float("nan")))))
