"""Model selection over a search (issue 23): per (search, fold) the draw with the best
selection score is kept; collapsed draws are never chosen and are counted; oracle is
labelled an upper bound; the three selections read different scores."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.app.selection import parse_selection, select
from bench.core.errors import UsageError
from bench.core.record import RunRecord


def _row(draw: int, fold: str, test: float, *, view=False, holdout=None, collapsed=False,
         lr=1e-3, seed=0, method="erm") -> dict:
    facts = {"collapsed": collapsed}
    if holdout is not None:
        facts["holdout"] = {"srocc": holdout, "collapsed": None}
    rec = RunRecord("lodo", 1, fold, method, method.upper(), "syn-kadid", seed, "quick", "smallcnn",
                    targets={"syn-kadid": {"srocc": test, "plcc": test, "krcc": test,
                                           "plcc_logistic": test, "n": 10}}, facts=facts)
    cfg = {"method": method, "seed": seed, "fold": fold, "protocol": {"name": "lodo", "validation": view},
           "train": {"lr": lr, "holdout": 0.2}, "hparams": {"draw": draw},
           "method_settings": {"clusters": 2, **({"beta": lr * 100} if method == "cis" else {})}}
    return {"protocol": "lodo", "method": method, "method_display": method.upper(), "dataset": "syn-kadid",
            "target": "syn-kadid", "fold": fold, "seed": seed, "srocc": test, "record": rec,
            "config": cfg, "run_dir": f"/r/{draw}-{fold}-{view}-{seed}", "setting": f"s{draw}",
            "setting_label": ""}


def _table() -> pd.DataFrame:
    rows = [
        # draw 0: best on validation type and held-out images on GB; worst test
        _row(0, "GB", 0.10, holdout=0.60), _row(0, "GB", 0.70, view=True),
        # draw 1: best test (the oracle's pick), poor validation
        _row(1, "GB", 0.50, holdout=0.20, lr=3e-3), _row(1, "GB", 0.10, view=True, lr=3e-3),
        # draw 2: collapsed on test though its validation is the best: never chosen
        _row(2, "GB", math.nan, holdout=0.90, collapsed=True, lr=5e-4),
        _row(2, "GB", 0.95, view=True, lr=5e-4),
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("selection, draw", [("type-val", 0), ("train-val", 0), ("oracle", 1)])
def test_each_selection_picks_by_its_own_score_and_never_a_collapsed_draw(selection, draw):
    out = select(_table(), selection, log=lambda m: None)
    assert len(out) == 1
    assert out.iloc[0]["record"].targets["syn-kadid"]["srocc"] == (0.10 if draw == 0 else 0.50)
    assert out.iloc[0]["config"]["hparams"]["draw"] == draw
    assert not out.iloc[0]["config"]["protocol"]["validation"]     # the test run is reported
    stats = next(iter(out.attrs["selection"].values()))
    assert stats == {"draws": 3, "collapsed": 1, "failed_draws": 1, "unselectable": []}
    label = out.iloc[0]["setting_label"]
    assert "best of 3 draws, 1 failed (collapsed) draw, 1 collapsed run(s)" in label
    assert ("UPPER BOUND" in label) == (selection == "oracle")


def test_a_fold_without_a_score_is_named_and_left_out():
    rows = _table()
    rows = rows[~rows["config"].map(lambda c: c["protocol"]["validation"])]   # no validation runs
    said = []
    out = select(rows, "type-val", log=said.append)
    assert out.empty and said and "GB" in said[0]


def test_selection_names_are_checked():
    assert parse_selection("type-val,oracle") == ["type-val", "oracle"]
    assert parse_selection(None) == []
    with pytest.raises(UsageError, match="--selection"):
        parse_selection("test")


def test_draws_differing_in_method_settings_are_one_search_and_other_settings_are_not():
    rows = [_row(0, "GB", 0.3, view=False, method="cis"), _row(1, "GB", 0.4, lr=2e-3, method="cis"),
            _row(0, "WN", 0.2, method="cis"), _row(1, "WN", 0.1, lr=2e-3, method="cis")]
    out = select(pd.DataFrame(rows), "oracle", log=lambda m: None)
    assert len(out) == 2 and out["setting"].nunique() == 1           # one search, both folds
    other = _row(0, "GB", 0.3, method="cis")
    other["config"]["method_settings"]["clusters"] = 3    # cis searches beta, not clusters
    out = select(pd.DataFrame(rows + [other]), "oracle", log=lambda m: None)
    assert out["setting"].nunique() == 2


def test_a_tiny_search_is_read_back_under_every_selection(tmp_path, capsys, monkeypatch):
    """End to end: `sweep --hparams 2 --validation true,false --set train.holdout=0.4` on the
    tiny KADID-10k release, then `leaderboard --selection` picks one of the 2 draws."""
    from bench.cli import main as cli_main
    from test_sweep import tiny_options, write_tiny_kadid

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    kadid, out = write_tiny_kadid(tmp_path / "kadid"), tmp_path / "runs"
    argv = [*tiny_options(kadid), "--method", "erm", "--hparams", "2", "--validation",
            "true,false", "--folds", "GB", "--set", "train.holdout=0.4", "--runs", str(out),
            "--jobs", "1"]
    assert cli_main(["sweep", *argv]) == 0
    capsys.readouterr()
    for selection, shown in (("train-val", "held-out training images"),
                             ("type-val", "held-out training type"), ("oracle", "UPPER BOUND")):
        assert cli_main(["leaderboard", "--runs", str(out), "--selection", selection]) == 0
        text = capsys.readouterr().out
        assert shown in text and "best of 2 draws, 0 failed" in text
        assert sum(shown in line for line in text.splitlines()) == 1   # one row: the chosen draw
