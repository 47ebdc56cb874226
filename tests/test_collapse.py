"""A collapsed fit (constant or non-finite predictions) is an outcome, not a silence
(issue 23): it is named by collapse_of, counted in the summary's label and printed under
the run's table, never silently averaged away."""
from __future__ import annotations

import math

import numpy as np

from bench.commands.run import collapsed_lines
from bench.core.metrics import all_metrics, collapse_of
from bench.core.record import RunRecord
from bench.core.summary import summarise_records


def test_collapse_of_names_constant_and_non_finite_predictions():
    assert collapse_of(np.zeros(60)) == "constant"
    assert collapse_of(np.full(5, 0.3) + 1e-9 * np.arange(5)) == "constant"   # 6 decimals
    assert collapse_of(np.array([0.1, np.nan, 0.3])) == "non-finite"
    assert collapse_of(np.array([0.1, np.inf])) == "non-finite"
    assert collapse_of(np.array([0.1, 0.2, 0.3])) is None


def _record(fold: str, pred, mos) -> RunRecord:
    m = all_metrics(np.asarray(pred), np.asarray(mos))
    collapse = {"syn-kadid": collapse_of(pred)} if collapse_of(pred) else {}
    return RunRecord("lodo", 1, fold, "cis", "CIS", "syn-kadid", 0, "quick", "smallcnn",
                     targets={"syn-kadid": m}, facts={"collapsed": bool(collapse),
                                                     "collapse": collapse})


def test_a_collapsed_fold_is_named_in_the_summary_not_silently_dropped():
    mos = [0.1, 0.5, 0.3, 0.9]
    recs = [_record("GB", [0.2, 0.4, 0.3, 0.8], mos), _record("WN", [0.0] * 4, mos),
            _record("CQ", [0.1, 0.6, 0.2, 0.7], mos)]
    s = summarise_records(recs, ["fold"])["syn-kadid"]
    assert s.collapsed == ("WN",)
    assert s["srocc"].n == 2 and s.units == 3
    assert s.label().endswith(", 1 collapsed")
    assert math.isnan(recs[1].targets["syn-kadid"]["srocc"])
    lines = collapsed_lines({"syn-kadid": s})
    assert len(lines) == 1 and "WN" in lines[0] and "not in the average" in lines[0]
    fine = summarise_records([recs[0], recs[2]], ["fold"])["syn-kadid"]
    assert fine.collapsed == () and "collapsed" not in fine.label() and collapsed_lines({"t": fine}) == []
