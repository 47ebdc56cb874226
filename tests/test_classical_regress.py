"""Regressors of the classical methods: each lowers its training error against a constant
predictor on a toy problem, chooses hyperparameters by CV on the training rows only, and
imputes (and counts) NaN feature rows."""
from __future__ import annotations

import numpy as np
import pytest

from bench.methods.classical import api
from bench.methods.classical.regress import LINEAR_GRID, RBF_GRID


def _mse(a, b) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


@pytest.mark.slow
def test_rbf_svr_fits_a_nonlinear_toy_problem():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(150, 4))
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2 + 0.05 * rng.normal(size=150)
    model = api.fit("brisque", x, y, seed=0)
    constant = _mse(y, np.full_like(y, y.mean()))
    assert _mse(api.predict(model, x), y) < 0.2 * constant
    assert model.kernel == "rbf" and model.params["svr__C"] in RBF_GRID["svr__C"]
    assert model.params["svr__gamma"] in RBF_GRID["svr__gamma"]
    assert model.cv_mse < constant


@pytest.mark.parametrize("name", ["cornia", "hosa"])
def test_linear_svr_fits_a_linear_toy_problem(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 30))
    y = x @ rng.normal(size=30) + 0.1 * rng.normal(size=120)
    model = api.fit(name, x, y, seed=0)
    assert model.kernel == "linear" and model.params["svr__C"] in LINEAR_GRID["svr__C"]
    assert _mse(api.predict(model, x), y) < 0.1 * _mse(y, np.full_like(y, y.mean()))


def test_grouped_cv_and_same_seed_same_model():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 5))
    y = x[:, 0] + 0.1 * rng.normal(size=60)
    groups = np.repeat(np.arange(6), 10)
    a = api.fit("cornia", x, y, seed=0, groups=groups)
    b = api.fit("cornia", x, y, seed=0, groups=groups)
    np.testing.assert_array_equal(api.predict(a, x), api.predict(b, x))
    with pytest.raises(ValueError, match="at least 2"):
        api.fit("brisque", x, y, seed=0, groups=np.zeros(60))


@pytest.mark.slow
def test_nan_rows_are_imputed_with_training_medians_and_counted():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 3))
    y = 2 * x[:, 0] + 0.05 * rng.normal(size=80)
    x[5] = np.nan
    model = api.fit("brisque", x, y, seed=0)
    assert model.n_imputed == 1
    nan_row = np.full((1, 3), np.nan)
    median_row = np.nanmedian(x, axis=0, keepdims=True)
    np.testing.assert_allclose(api.predict(model, nan_row), api.predict(model, median_row))
    assert np.isfinite(api.predict(model, x)).all()


def test_unknown_method_and_shape_mismatch_are_errors():
    with pytest.raises(ValueError, match="one of brisque, cornia, hosa, bliinds2"):
        api.fit("ilniqe", np.zeros((4, 2)), np.zeros(4), seed=0)
    with pytest.raises(ValueError, match="do not match"):
        api.fit("brisque", np.zeros((4, 2)), np.zeros(5), seed=0)
