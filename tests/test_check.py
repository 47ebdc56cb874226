"""Tests of the metric regression check (`python -m bench check`, reports.regression), on
run folders written by the one record writer (tests/fake_runs.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.cli import main as cli_main
from bench.core.errors import BenchError
from bench.app.results import load_results
from bench.reports.regression import compare, load_baseline, measured_value, write_baseline

from fake_release import at_hand, make_lodo_run
from fake_runs import make_run, read_json

BASE = {"metric": "srocc", "protocol": "lodo", "method": "cis", "dataset": "syn-kadid"}


@pytest.fixture()
def release(tmp_path, monkeypatch):
    """A 'syn-kadid' at hand with 2 distortion types, GB and LB: the protocol's 2 folds."""
    return at_hand(tmp_path, monkeypatch, "syn-kadid", ("GB", "LB"))


@pytest.fixture()
def runs(tmp_path, release):
    """LODO CIS on syn-kadid over its 2 folds: GB with two seeds, LB with one; a cross ERM."""
    root = tmp_path / "runs"
    make_lodo_run(root, "syn-kadid", release, "GB", seed=0)
    make_lodo_run(root, "syn-kadid", release, "GB", seed=1)
    make_lodo_run(root, "syn-kadid", release, "LB", seed=0)
    make_run(root, "cross", "erm", fold="all", target="syn-wild")
    return root


def _srocc(root, fold=None, method="cis"):
    ms = [read_json(p) for p in root.rglob("metrics.json")]
    return [m["srocc"] for m in ms if m["method"] == method and (fold is None or m["fold"] == fold)]


def write_csv(path, rows: list[dict]):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_lodo_value_is_the_mean_over_folds_of_seed_means(runs):
    lodo = load_results(runs)
    lodo = lodo[lodo["protocol"] == "lodo"]
    want = np.mean([np.mean(_srocc(runs, "GB")), np.mean(_srocc(runs, "LB"))])
    assert measured_value(lodo, "srocc") == pytest.approx(want)
    assert measured_value(lodo, "srocc") != pytest.approx(np.mean(_srocc(runs)))


def test_compare_pass_at_the_measured_value_and_regress_above(runs, tmp_path):
    value = measured_value(load_results(runs).query("protocol == 'lodo'"), "srocc")
    gb = np.mean(_srocc(runs, "GB"))
    path = write_csv(tmp_path / "b.csv", [
        {**BASE, "value": value, "tolerance": 0.0},
        {**BASE, "value": value + 0.1, "tolerance": 0.05},
        {**BASE, "fold": "GB", "value": gb, "tolerance": 0.0},
    ])
    report = compare(load_baseline(path), load_results(runs))
    assert list(report["status"]) == ["ok", "REGRESSED", "ok"]
    assert report["measured"].tolist() == pytest.approx([value, value, gb])
    assert report["runs"].tolist() == [3, 3, 2]


@pytest.mark.slow
def test_incomplete_runs_fail(tmp_path, release, capsys):
    """1 fold of a 2-fold protocol, or fewer folds than the baseline's count, fails."""
    root = tmp_path / "runs"
    make_lodo_run(root, "syn-kadid", release, "GB")
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.0, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "1 of the protocol's 2 folds" in out and "missing: LB" in out
    make_lodo_run(root, "syn-kadid", release, "LB")
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 0
    path = write_csv(tmp_path / "c.csv", [{**BASE, "value": 0.0, "tolerance": 0.0, "folds": 3}])
    capsys.readouterr()
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 1
    assert "2 of the baseline's 3 folds" in capsys.readouterr().out


def test_mixed_settings_fail(runs, release, tmp_path, capsys):
    """A run with train.epochs=0 beside the others is never averaged into them."""
    make_lodo_run(runs, "syn-kadid", release, "GB", seed=2, train__epochs=0)
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.0, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 1
    out = capsys.readouterr().out
    assert "MIXED" in out and "train.epochs=0" in out
    with pytest.raises(BenchError, match="mix settings"):
        write_baseline(load_results(runs), 0.01)


def test_check_command_fails_naming_the_regressed_row(runs, tmp_path, capsys):
    path = write_csv(tmp_path / "b.csv", [
        {**BASE, "value": 0.0, "tolerance": 0.01, "target": ""},
        {"metric": "plcc", "protocol": "cross", "method": "erm", "dataset": "syn-kadid",
         "value": 1.0, "tolerance": 0.01, "target": "syn-wild"},
    ])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out
    assert "line 3 (plcc cross erm syn-kadid target=syn-wild)" in out
    assert "line 2" not in out.split("REGRESSED", 1)[1].split("\n", 1)[1]


def test_baseline_row_without_runs_is_an_error(runs, tmp_path, capsys):
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.0, "tolerance": 0.0},
                                          {**BASE, "method": "cip", "value": 0.5, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 1
    err = capsys.readouterr().err
    assert "no finished run matches baseline line 3 (srocc lodo cip syn-kadid)" in err


def test_bad_run_folder_is_named_and_skipped(runs, tmp_path, capsys):
    bad = next(p.parent for p in runs.rglob("metrics.json") if read_json(p)["fold"] == "LB")
    (bad / "metrics.json").write_text('{"truncated": ')
    path = write_csv(tmp_path / "b.csv", [{**BASE, "fold": "GB", "value": 0.0, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 0
    err = capsys.readouterr().err
    assert "1 run folder skipped" in err and bad.name in err and "unreadable" in err


def test_bad_baseline_files_are_named(tmp_path):
    with pytest.raises(BenchError, match="lacks column"):
        load_baseline(write_csv(tmp_path / "a.csv", [{"metric": "srocc", "value": 1}]))
    with pytest.raises(BenchError, match="line 2: unknown metric 'auc'"):
        load_baseline(write_csv(tmp_path / "b.csv", [{**BASE, "metric": "auc", "value": 1, "tolerance": 0}]))
    with pytest.raises(BenchError, match="unknown column"):
        load_baseline(write_csv(tmp_path / "c.csv", [{**BASE, "value": 1, "tolerance": 0, "colour": 1}]))
    with pytest.raises(BenchError, match="folds '0' is not a positive integer"):
        load_baseline(write_csv(tmp_path / "d.csv", [{**BASE, "value": 1, "tolerance": 0, "folds": 0}]))
    with pytest.raises(BenchError, match="not found"):
        load_baseline(tmp_path / "missing.csv")


@pytest.mark.slow
def test_write_baseline_round_trip(runs, tmp_path, capsys):
    path = tmp_path / "baseline.csv"
    assert cli_main(["check", "--write-baseline", str(path), "--tolerance", "0.03",
                     "--runs", str(runs)]) == 0
    written = pd.read_csv(path)
    assert len(written) == 4 and set(written["tolerance"]) == {0.03}
    lodo = written[(written["protocol"] == "lodo") & (written["metric"] == "srocc")]
    assert lodo["folds"].tolist() == [2]
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 0
    written.loc[lodo.index, "value"] += 0.031                # raise above the tolerance
    written.to_csv(path, index=False)
    capsys.readouterr()
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 1
    assert "srocc lodo cis syn-kadid" in capsys.readouterr().out


def test_write_baseline_needs_runs(runs):
    with pytest.raises(BenchError, match="no finished runs"):
        write_baseline(load_results(runs).iloc[0:0], 0.01)


@pytest.mark.parametrize("value,tolerance,why", [
    ("nan", "0.01", "value 'nan' is not a finite number"),
    ("inf", "0.01", "value 'inf' is not a finite number"),
    ("0.5", "nan", "tolerance 'nan' is not a finite number"),
    ("0.5", "inf", "tolerance 'inf' is not a finite number"),
    ("0.5", "-0.1", "tolerance -0.1 is negative"),
])
def test_a_baseline_that_would_pass_anything_is_refused(runs, tmp_path, capsys, value, tolerance, why):
    """value=nan, tolerance=nan or inf always passed; now the baseline is refused, naming
    the file, the line and the cell."""
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.0, "tolerance": 0.0},
                                          {**BASE, "value": value, "tolerance": tolerance}])
    assert cli_main(["check", "--baseline", str(path), "--runs", str(runs)]) == 1
    err = capsys.readouterr().err
    assert f"line 3: {why}" in err and str(path) in err and err.count("\n") == 1
    with pytest.raises(BenchError, match="line 3"):
        load_baseline(path)


def test_write_baseline_refuses_a_non_finite_tolerance(runs, tmp_path):
    assert cli_main(["check", "--write-baseline", str(tmp_path / "b.csv"), "--tolerance", "nan",
                     "--runs", str(runs)]) == 2
