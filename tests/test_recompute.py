"""bench.core.recompute: the correlations recomputed from predictions.csv equal bench.core.metrics'
(scipy's) on the same numbers, and a stated metric is accepted exactly when the file's
6-decimal rounding can explain the difference."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bench.core.metrics import krcc, plcc, srocc
from bench.core.recompute import correlations, mismatches


def stated(pred, mos) -> dict:
    return {"srocc": srocc(pred, mos), "plcc": plcc(pred, mos), "krcc": krcc(pred, mos),
            "n": len(pred)}


def rounded(x) -> np.ndarray:
    return np.array([float(f"{v:.6f}") for v in x])


@pytest.mark.parametrize("n", [2, 5, 60, 250])
def test_same_values_as_the_metrics_module(n):
    rng = np.random.default_rng(n)
    mos = np.round(rng.uniform(0, 1, n), 2)                 # ties in MOS
    pred = np.round(mos + rng.normal(0, 0.3, n), 2)         # and in predictions
    got, want = correlations(pred, mos), stated(pred, mos)
    for key in ("srocc", "plcc", "krcc"):
        assert got[key] == pytest.approx(want[key], abs=1e-12) or (
            math.isnan(got[key]) and math.isnan(want[key]))


def test_constant_predictions_are_nan_like_the_metrics_module():
    got = correlations(np.full(10, 0.5), np.linspace(0, 1, 10))
    assert all(math.isnan(v) for v in got.values())


@pytest.mark.parametrize("spread", [0.3, 1e-6, 1e-8])
def test_rounding_to_six_decimals_is_never_a_mismatch(spread):
    """From spread-out predictions to a model collapsed to a near constant, whose
    predictions round to ties (or to one value) in the file."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(3, 80))
        mos = rng.uniform(0, 1, n)
        pred = 0.5 + rng.normal(0, spread, n)
        assert mismatches(stated(pred, mos), rounded(pred), rounded(mos)) == []


def test_an_edited_value_is_caught_even_beside_ties():
    rng = np.random.default_rng(3)
    mos = rng.uniform(0, 1, 60)
    pred = mos + rng.normal(0, 0.3, 60)
    pred[:5] = 0.5                                          # a tie in the file
    truth = stated(pred, mos)
    assert mismatches(truth, pred, mos) == []
    for key in ("srocc", "plcc", "krcc"):
        assert mismatches({**truth, key: truth[key] + 0.01}, pred, mos)
    assert mismatches({**truth, "n": 59}, pred, mos) == ["n = 59 stated, 60 rows in predictions.csv"]
