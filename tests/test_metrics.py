"""Correlation metrics: the logistic PLCC fits (both forms), its NaN cases and their count."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bench.core.metrics import (
    DEFAULT_LOGISTIC,
    LOGISTICS,
    all_metrics,
    count_failed_fits,
    fit_logistic,
    logistic4,
    logistic5,
    plcc,
    plcc_logistic,
    srocc,
)


def test_reproduction_of_issue_10_is_fitted_not_the_signed_raw_plcc():
    """n = 10, predictions -0.01 exp(x): the raw PLCC is -0.927 (the old fallback's
    answer); a logistic fit maps the decreasing predictions onto MOS almost exactly."""
    x = np.linspace(0.0, 3.0, 10)
    pred = -0.01 * np.exp(x)
    assert plcc(pred, x) == pytest.approx(-0.927, abs=2e-3)
    for name in LOGISTICS:
        assert plcc_logistic(pred, x, name) > 0.99
    x = np.linspace(0.0, 1.0, 10)
    assert plcc_logistic(-0.01 * np.exp(x), x) == pytest.approx(0.9999, abs=1e-4)


def test_monotone_nonlinear_relation_fits_better_than_raw():
    rng = np.random.default_rng(0)
    mos = rng.uniform(0, 1, 120)
    pred = np.exp(6 * mos) + rng.normal(0, 1, 120)
    for name in LOGISTICS:
        assert plcc_logistic(pred, mos, name) > plcc(pred, mos) + 0.1


def test_decreasing_relation_gives_positive_logistic_plcc():
    """The logistic allows a decreasing map, so MOS that is a decreasing logistic of the
    predictions is fitted exactly, with a positive correlation."""
    pred = np.linspace(-3, 3, 40)
    mos = 1.0 + 4.0 / (1.0 + np.exp(2.0 * (pred - 0.5)))
    assert srocc(pred, mos) == pytest.approx(-1.0)
    for name in LOGISTICS:
        assert plcc_logistic(pred, mos, name) == pytest.approx(1.0, abs=1e-6)


def test_scale_of_predictions_does_not_change_the_fit():
    rng = np.random.default_rng(1)
    mos = rng.uniform(0, 100, 80)
    pred = np.tanh((mos - 50) / 20) + rng.normal(0, 0.1, 80)
    a = plcc_logistic(pred, mos)
    assert plcc_logistic(1e-6 * pred + 3.0, mos) == pytest.approx(a, abs=1e-6)
    assert plcc_logistic(1e6 * pred, mos) == pytest.approx(a, abs=1e-6)


@pytest.mark.parametrize("name", LOGISTICS)
def test_fitted_parameters_reproduce_the_named_formula(name):
    """The parameters reported are those of the documented formula, on standardised
    predictions: evaluating the formula with them gives values correlated like the fit."""
    rng = np.random.default_rng(2)
    mos = rng.uniform(0, 1, 60)
    pred = np.log1p(9 * mos) + rng.normal(0, 0.05, 60)
    fit = fit_logistic(pred, mos, name)
    z = (pred - pred.mean()) / pred.std()
    fitted = (logistic5 if name == "sheikh5" else logistic4)(z, *fit.params)
    assert fit.ok and np.sum((fitted - mos) ** 2) == pytest.approx(fit.sse, rel=1e-6)
    assert plcc(fitted, mos) == pytest.approx(fit.value, abs=1e-9)


def test_sheikh5_recovers_its_own_curve_better_than_vqeg4():
    """A curve of the 5-parameter form (logistic plus a linear trend) is fitted exactly by
    sheikh5 and only approximately by vqeg4."""
    z = np.linspace(-2, 2, 50)
    mos = logistic5(z, 3.0, 4.0, 0.3, 0.8, 1.0)
    assert plcc_logistic(z, mos, "sheikh5") == pytest.approx(1.0, abs=1e-9)
    assert plcc_logistic(z, mos, "vqeg4") < 1.0 - 1e-6
    assert DEFAULT_LOGISTIC == "sheikh5"


@pytest.mark.parametrize("name", LOGISTICS)
def test_too_few_points_is_nan_with_a_reason(name):
    mos = np.arange(4.0)
    fit = fit_logistic(mos ** 2, mos, name)
    assert math.isnan(fit.value) and not fit.ok and "points" in fit.reason
    assert math.isnan(plcc_logistic(np.arange(5.0) ** 2, np.arange(5.0), "sheikh5"))  # 5 < 6


def test_constant_predictions_are_nan():
    fit = fit_logistic(np.ones(20), np.arange(20.0))
    assert math.isnan(fit.value) and "constant" in fit.reason
    assert math.isnan(plcc_logistic(np.arange(20.0), np.full(20, 3.0)))


def test_non_finite_input_is_nan():
    pred = np.arange(20.0)
    pred[3] = np.nan
    assert "non-finite" in fit_logistic(pred, np.arange(20.0)).reason


def test_all_metrics_keys_and_failed_fit_count():
    rng = np.random.default_rng(3)
    good = all_metrics(rng.normal(size=30), rng.normal(size=30))
    assert set(good) == {"srocc", "plcc", "krcc", "plcc_logistic", "n"} and good["n"] == 30
    small = all_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    flat = all_metrics(np.zeros(30), rng.normal(size=30))
    assert math.isnan(small["plcc_logistic"]) and not math.isnan(small["plcc"])
    assert count_failed_fits([good, small, flat]) == 2
    vq = all_metrics(rng.normal(size=30), rng.normal(size=30), logistic="vqeg4")
    assert not math.isnan(vq["plcc_logistic"])


def test_unknown_logistic_is_an_error():
    with pytest.raises(ValueError, match="logistic must be one of"):
        plcc_logistic(np.arange(10.0), np.arange(10.0), "cubic")
