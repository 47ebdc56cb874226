"""Tests of the metric regression check (`python -m bench check`, reports.regression)."""
from __future__ import annotations

import pandas as pd
import pytest

import bench.commands.check as check_cmd
from bench.cli import main as cli_main
from bench.errors import BenchError
from reports.regression import compare, load_baseline, measured_value, write_baseline


def results() -> pd.DataFrame:
    """LODO CIS on syn-kadid: fold GB with two seeds, LB with one; a cross run of ERM."""
    cols = ("protocol", "method", "dataset", "target", "fold", "seed", "srocc", "plcc")
    rows = [
        ("lodo", "cis", "syn-kadid", "syn-kadid", "GB", 0, 0.80, 0.70),
        ("lodo", "cis", "syn-kadid", "syn-kadid", "GB", 1, 0.60, 0.70),
        ("lodo", "cis", "syn-kadid", "syn-kadid", "LB", 0, 0.50, 0.40),
        ("cross", "erm", "syn-kadid", "syn-wild", "", 0, 0.55, 0.65),
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["backbone"], df["profile"], df["clusters"] = "smallcnn", "quick", 2
    df["train_ratio"], df["split"] = float("nan"), -1
    return df


def write_csv(path, rows: list[dict]):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


BASE = {"metric": "srocc", "protocol": "lodo", "method": "cis", "dataset": "syn-kadid"}


def test_lodo_average_is_the_mean_over_folds():
    # GB mean 0.70, LB 0.50 -> 0.60 (not 0.633, the mean over the three runs)
    lodo = results()[results()["protocol"] == "lodo"]
    assert measured_value(lodo, "srocc") == pytest.approx(0.60)
    assert measured_value(lodo, "plcc") == pytest.approx(0.55)


def test_compare_pass_at_the_measured_value_and_regress_above(tmp_path):
    path = write_csv(tmp_path / "b.csv", [
        {**BASE, "value": 0.60, "tolerance": 0.0},
        {**BASE, "value": 0.70, "tolerance": 0.05},
        {**BASE, "fold": "GB", "value": 0.70, "tolerance": 0.0},
    ])
    report = compare(load_baseline(path), results())
    assert list(report["status"]) == ["ok", "REGRESSED", "ok"]
    assert report["measured"].tolist() == pytest.approx([0.60, 0.60, 0.70])
    assert report["runs"].tolist() == [3, 3, 2]


def test_check_command_fails_naming_the_regressed_row(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_cmd, "load_runs", lambda d: results())
    path = write_csv(tmp_path / "b.csv", [
        {**BASE, "value": 0.60, "tolerance": 0.01, "target": ""},
        {"metric": "plcc", "protocol": "cross", "method": "erm", "dataset": "syn-kadid",
         "value": 0.70, "tolerance": 0.01, "target": "syn-wild"},
    ])
    assert cli_main(["check", "--baseline", str(path)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out
    assert "line 3 (plcc cross erm syn-kadid target=syn-wild)" in out
    assert "line 2" not in out.split("REGRESSED", 1)[1].split("\n", 1)[1]


def test_check_command_passes_at_the_measured_value(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_cmd, "load_runs", lambda d: results())
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.60, "tolerance": 0.0},
                                          {**BASE, "metric": "plcc", "value": 0.55, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: all 2 baseline row(s) pass" in out and "0.6000" in out


def test_baseline_row_without_runs_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_cmd, "load_runs", lambda d: results())
    path = write_csv(tmp_path / "b.csv", [{**BASE, "value": 0.5, "tolerance": 0.0},
                                          {**BASE, "method": "cip", "value": 0.5, "tolerance": 0.0}])
    assert cli_main(["check", "--baseline", str(path)]) == 1
    err = capsys.readouterr().err
    assert "no finished run matches baseline line 3 (srocc lodo cip syn-kadid)" in err


def test_bad_baseline_files_are_named(tmp_path):
    with pytest.raises(BenchError, match="lacks column"):
        load_baseline(write_csv(tmp_path / "a.csv", [{"metric": "srocc", "value": 1}]))
    with pytest.raises(BenchError, match="line 2: unknown metric 'auc'"):
        load_baseline(write_csv(tmp_path / "b.csv", [{**BASE, "metric": "auc", "value": 1, "tolerance": 0}]))
    with pytest.raises(BenchError, match="unknown column"):
        load_baseline(write_csv(tmp_path / "c.csv", [{**BASE, "value": 1, "tolerance": 0, "colour": 1}]))
    with pytest.raises(BenchError, match="not found"):
        load_baseline(tmp_path / "missing.csv")


def test_write_baseline_round_trip(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check_cmd, "load_runs", lambda d: results())
    path = tmp_path / "baseline.csv"
    assert cli_main(["check", "--write-baseline", str(path), "--tolerance", "0.03"]) == 0
    written = pd.read_csv(path)
    assert len(written) == 4 and set(written["tolerance"]) == {0.03}
    lodo = written[(written["protocol"] == "lodo") & (written["metric"] == "srocc")]
    assert lodo["value"].tolist() == pytest.approx([0.60])
    assert cli_main(["check", "--baseline", str(path)]) == 0
    written.loc[lodo.index, "value"] += 0.031                # raise above the tolerance
    written.to_csv(path, index=False)
    capsys.readouterr()
    assert cli_main(["check", "--baseline", str(path)]) == 1
    assert "srocc lodo cis syn-kadid" in capsys.readouterr().out


def test_write_baseline_needs_runs():
    with pytest.raises(BenchError, match="no finished runs"):
        write_baseline(results().iloc[0:0], 0.01)
