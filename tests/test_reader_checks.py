"""Readers check what they are given (issue 19, items 3, 4, 8, 11): completeness comes from
the protocol over the dataset at hand, never from a record; metrics are recomputed from
predictions.csv and tied to the dataset's scores; copies of one run are refused; only
regular files inside --runs are read. Each case is a hand-made run folder, as the issue
tried them."""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main as cli_main
from bench.app.results import load_results
from bench.reports.leaderboard import build_leaderboard, format_text

from fake_release import at_hand, make_lodo_run
from fake_runs import make_run

TYPES = ("GB", "LB", "MB")


@pytest.fixture()
def release(tmp_path, monkeypatch):
    """'syn-kadid' at hand with three distortion types: the protocol's three folds."""
    return at_hand(tmp_path, monkeypatch, "syn-kadid", TYPES)


@pytest.fixture()
def alarm():
    """Fail (instead of hanging the suite) when a reader blocks for 30 s."""
    def boom(*_):
        raise TimeoutError("a reader blocked")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def edit_metrics(folder: Path, **changes) -> None:
    """Rewrite a run's metrics.json with the first target's metrics changed as given."""
    path = folder / "metrics.json"
    rec = json.loads(path.read_text())
    first = next(iter(rec["targets"]))
    rec["targets"][first].update(changes)
    rec.update({k: v for k, v in changes.items()})
    path.write_text(json.dumps(rec))


def write_baseline(path: Path, **row) -> Path:
    base = {"metric": "srocc", "protocol": "lodo", "method": "cis", "dataset": "syn-kadid",
            "value": 0.0, "tolerance": 0.0}
    pd.DataFrame([{**base, **row}]).to_csv(path, index=False)
    return path


# --- item 3: completeness comes from the protocol --------------------------------------------

@pytest.mark.parametrize("fold_count", [1, None])
def test_one_fold_claiming_completeness_ranks_below_complete_runs(tmp_path, release, capsys,
                                                                   fold_count):
    """A LODO record of 1 fold saying fold_count 1 (or nothing) is 1 of the protocol's 3."""
    root = tmp_path / "runs"
    for fold in TYPES:
        make_lodo_run(root, "syn-kadid", release, fold, "erm", noise=0.8)
    make_lodo_run(root, "syn-kadid", release, "GB", "cis", noise=0.01,
                  facts={"fold_count": fold_count} if fold_count else None)
    board = build_leaderboard(load_results(root))
    cis = board[board["method"] == "cis"].iloc[0]
    erm = board[board["method"] == "erm"].iloc[0]
    assert cis["srocc"] > erm["srocc"]                       # it would have ranked first
    assert cis["aggregate"] == "mean over 1 of 3 folds" and cis["rank"] is None
    assert erm["aggregate"] == "mean of 3 folds" and erm["rank"] == 1
    assert list(board["method"]) == ["erm", "cis"]
    assert "missing LB, MB" in format_text(board)
    path = write_baseline(tmp_path / "b.csv")
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "1 of the protocol's 3 folds" in out and "missing: LB, MB" in out


def test_without_the_data_completeness_is_unverified_never_assumed(tmp_path, capsys):
    """syn-kadid is not at hand in the tests: a 3-fold set is '(unverified)'; a 1-fold set
    beside it is incomplete against the folds the other runs show; check refuses both
    unless the baseline gives a folds count."""
    root = tmp_path / "runs"
    for fold in TYPES:
        make_run(root, "lodo", "erm", fold=fold, noise=0.8)
    make_run(root, "lodo", "cis", fold="GB", noise=0.01, fold_count=1)
    board = build_leaderboard(load_results(root))
    cis = board[board["method"] == "cis"].iloc[0]
    erm = board[board["method"] == "erm"].iloc[0]
    assert erm["aggregate"] == "mean of 3 folds (unverified)" and erm["rank"] == 1
    assert not erm["complete"] and erm["completeness"] == "unverified"
    assert cis["aggregate"] == "mean over 1 of at least 3 folds" and cis["rank"] is None
    assert "not at hand" in format_text(board)
    path = write_baseline(tmp_path / "b.csv", method="erm")
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 1
    out = capsys.readouterr().out
    assert "UNVERIFIED" in out and "not at hand" in out
    path = write_baseline(tmp_path / "c.csv", method="erm", folds=3)
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 0
    path = write_baseline(tmp_path / "d.csv", method="cis", folds=1)
    capsys.readouterr()
    assert cli_main(["check", "--baseline", str(path), "--runs", str(root)]) == 1
    assert "1 of at least 3 folds" in capsys.readouterr().out


def test_a_fold_the_protocol_does_not_define_is_refused(tmp_path, release, capsys):
    root = tmp_path / "runs"
    make_lodo_run(root, "syn-kadid", release, "GB")
    folder = make_lodo_run(root, "syn-kadid", release, "LB", seed=1)
    for name in ("metrics.json", "config.json"):           # relabel a real fold as another
        text = (folder / name).read_text().replace('"LB"', '"XX"')
        (folder / name).write_text(text)
    results = load_results(root)
    assert set(results["fold"]) == {"GB"}
    assert "fold 'XX' is not a fold of protocol lodo" in capsys.readouterr().err


# --- item 4: metrics are not trusted as written ----------------------------------------------

def test_n_zero_with_a_high_srocc_is_refused(tmp_path, release, capsys):
    root = tmp_path / "runs"
    honest = make_lodo_run(root, "syn-kadid", release, "GB", "erm", noise=0.3)
    forged = make_lodo_run(root, "syn-kadid", release, "GB", "cis", noise=0.3)
    edit_metrics(forged, n=0, srocc=0.99)
    board = build_leaderboard(load_results(root))
    assert list(board["method"]) == ["erm"]
    err = capsys.readouterr().err
    assert forged.name in err and "n = 0" in err and "at least 2" in err
    assert honest.name not in err


def test_edited_metric_is_named_as_a_mismatch(tmp_path, release, capsys):
    root = tmp_path / "runs"
    forged = make_lodo_run(root, "syn-kadid", release, "GB", "cis", noise=0.3)
    stated = json.loads((forged / "metrics.json").read_text())["srocc"]
    edit_metrics(forged, srocc=stated + 0.05)
    assert load_results(root).empty
    err = capsys.readouterr().err
    assert "does not match predictions.csv" in err and "srocc" in err and forged.name in err


def test_predictions_not_on_the_datasets_scores_are_named(tmp_path, release, capsys):
    """Predictions and metrics agree with each other, but the MOS column is not the
    dataset's: caught where the dataset is at hand."""
    root = tmp_path / "runs"
    folder = make_lodo_run(root, "syn-kadid", release, "GB", "cis")
    pred = pd.read_csv(folder / "predictions.csv")
    pred["mos"] = pred["prediction"].round(6)               # a perfect fit to itself
    pred.to_csv(folder / "predictions.csv", index=False, float_format="%.6f")
    edit_metrics(folder, srocc=1.0, plcc=1.0, krcc=1.0)
    assert load_results(root).empty
    err = capsys.readouterr().err
    assert "does not match the dataset" in err and "has MOS" in err


def test_copies_of_one_run_are_refused_by_name_never_averaged(tmp_path, release, capsys):
    root = tmp_path / "runs"
    for fold in TYPES:
        make_lodo_run(root, "syn-kadid", release, fold, "cis", noise=0.3)
    honest = build_leaderboard(load_results(root)).iloc[0]["srocc"]
    best = max(root.iterdir(), key=lambda f: json.loads((f / "metrics.json").read_text())["srocc"])
    for k in range(5):
        shutil.copytree(best, root / f"copy{k}" / best.name)
    capsys.readouterr()
    board = build_leaderboard(load_results(root))
    err = capsys.readouterr().err
    assert "6 run folders skipped" in err and "copies are never averaged" in err
    row = board.iloc[0]
    assert row["aggregate"] == "mean over 2 of 3 folds" and row["srocc"] != pytest.approx(honest)
    assert row["srocc"] < honest                          # the best fold is out, not counted 6x


def test_a_repeated_prediction_column_is_an_error(tmp_path, release, capsys):
    root = tmp_path / "runs"
    folder = make_lodo_run(root, "syn-kadid", release, "GB", "cis")
    lines = (folder / "predictions.csv").read_text().splitlines()
    doubled = [lines[0] + ",prediction"] + [line + ",0.999" for line in lines[1:]]
    (folder / "predictions.csv").write_text("\n".join(doubled) + "\n")
    assert load_results(root).empty
    assert "'prediction' appears more than once" in capsys.readouterr().err


def test_rounding_and_ties_in_predictions_csv_are_not_a_mismatch(tmp_path, release, capsys):
    """A model that collapsed to a near constant: predictions 1e-7 apart round to equal
    ones in predictions.csv; the record (from full precision) still reads as valid."""
    root = tmp_path / "runs"
    from fake_release import loader, run_config
    from bench.core.config import config_hash
    from bench.core.metrics import all_metrics
    from bench.core.record import RunFolder, RunRecord, folder_name

    test = [r for r in loader("syn-kadid")(release).records if r.dist_type == "GB"]
    mos = np.array([r.mos for r in test])
    pred = 0.5 + np.arange(len(test)) * 1e-7 * np.sign(mos - 0.5)
    cfg = run_config("syn-kadid", release, "cis", "GB", 0)
    rec = RunRecord("lodo", 1, "GB", "cis", "CIS", "syn-kadid", 0, "smoke", "smallcnn",
                    {"syn-kadid": all_metrics(pred, mos)}, {})
    run = RunFolder(root / folder_name(cfg, config_hash(cfg)))
    run.path.mkdir(parents=True)
    run.begin(cfg)
    run.finish(rec, [{"target": "syn-kadid", "image": r.image, "mos": r.mos, "prediction": p}
                     for r, p in zip(test, pred)])
    results = load_results(root)
    assert len(results) == 1 and "skipped" not in capsys.readouterr().err


# --- item 8: readers trust the file system no more --------------------------------------------

def test_fifo_named_metrics_json_does_not_hang(tmp_path, release, capsys, alarm):
    root = tmp_path / "runs"
    make_lodo_run(root, "syn-kadid", release, "GB")
    bad = make_lodo_run(root, "syn-kadid", release, "LB")
    (bad / "metrics.json").unlink()
    os.mkfifo(bad / "metrics.json")
    assert cli_main(["leaderboard", "--runs", str(root)]) == 0
    err = capsys.readouterr().err
    assert bad.name in err and "not a regular file" in err


@pytest.mark.parametrize("name", ["metrics.json", "config.json", "predictions.csv"])
def test_link_to_dev_zero_is_not_read(tmp_path, release, capsys, alarm, name):
    root = tmp_path / "runs"
    bad = make_lodo_run(root, "syn-kadid", release, "GB")
    (bad / name).unlink()
    (bad / name).symlink_to("/dev/zero")
    assert load_results(root).empty
    err = capsys.readouterr().err
    assert f"{name} is a symbolic link" in err


def test_oversized_record_is_refused_without_reading_it(tmp_path, release, capsys):
    root = tmp_path / "runs"
    bad = make_lodo_run(root, "syn-kadid", release, "GB")
    with open(bad / "metrics.json", "ab") as fh:
        fh.truncate(5 << 20)
    assert load_results(root).empty
    assert "over the 4.0 MiB" in capsys.readouterr().err


def test_symlinked_run_folder_is_reported_not_skipped_silently(tmp_path, release, capsys):
    root, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    make_lodo_run(root, "syn-kadid", release, "GB")
    linked = make_lodo_run(elsewhere, "syn-kadid", release, "LB")
    (root / "linked").symlink_to(linked, target_is_directory=True)
    results = load_results(root)
    assert set(results["fold"]) == {"GB"}
    err = capsys.readouterr().err
    assert "linked" in err and "is a symbolic link" in err and "not followed" in err


# --- item 11: the future-schema message says what to do ---------------------------------------

def test_a_newer_schema_says_upgrade_the_harness(tmp_path, release, capsys):
    root = tmp_path / "runs"
    folder = make_lodo_run(root, "syn-kadid", release, "GB")
    rec = json.loads((folder / "metrics.json").read_text())
    rec["schema_version"] = 99
    (folder / "metrics.json").write_text(json.dumps(rec))
    assert load_results(root).empty
    err = capsys.readouterr().err
    assert "newer iqa-bench; upgrade the harness" in err and "rerun" not in err
