"""`python -m bench score` under the full-reference protocols: an outside FR model's
predictions, one per distorted image (matched by its name), scored on each split's test
pairs; --out run folders join the leaderboard and the FR tables, lined up by test dataset
and, on a pseudo-MOS set, carrying its label source (the submission itself unmarked).
Data: the tiny KADID-10k release (2 references x 3 types x 2 levels)."""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
from scipy import stats

from bench.cli import main as cli_main
from bench.data.registry import DATASETS
from bench.app.results import load_results
from bench.reports.fr import fr_results
from bench.reports.leaderboard import build_leaderboard

from layouts import KADID10K_ROWS, build_kadid10k

MOS = {f"images/{name}": dmos for name, dmos in KADID10K_ROWS}


@pytest.fixture()
def kadid(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    return build_kadid10k(tmp_path / "kadid")


def score(kadid: Path, protocol: str, *args: str) -> int:
    return cli_main(["score", *args, "--protocol", protocol, "--dataset", "kadid10k",
                     "--set", f"data.kadid10k={kadid}", "--set", "protocol.splits=2"])


def prediction(image: str, fold: str) -> float:
    """A made-up FR model, different per split (so the fold column matters)."""
    return MOS[image] + (0.3 if fold == "s1" else -0.2) * int(image[-6:-4]) + 0.07 * int(image[11:13])


def fill(template: Path, out: Path) -> list[dict]:
    rows = list(csv.DictReader(open(template)))
    for r in rows:
        r["prediction"] = f"{prediction(r['image'], r['fold']):.6f}"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_fr_split_scores_each_split_on_its_test_pairs(kadid, tmp_path, capsys):
    assert score(kadid, "fr-split", "--template", str(tmp_path / "t.csv")) == 0
    rows = fill(tmp_path / "t.csv", tmp_path / "model.csv")
    by_fold: dict[str, list[str]] = {}
    for r in rows:
        by_fold.setdefault(r["fold"], []).append(r["image"])
    assert sorted(by_fold) == ["s0", "s1"]
    for images in by_fold.values():               # a split tests whole references only
        refs = {im[7:10] for im in images}
        assert len(images) == 6 * len(refs)
    capsys.readouterr()
    assert score(kadid, "fr-split", str(tmp_path / "model.csv"), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    for f in result["folds"]:
        images = by_fold[f["fold"]]
        expected = stats.spearmanr([prediction(i, f["fold"]) for i in images], [MOS[i] for i in images])[0]
        assert f["target"] == "kadid10k" and f["n"] == len(images)
        assert f["srocc"] == pytest.approx(expected)
    assert result["average"]["srocc"] == pytest.approx(sum(f["srocc"] for f in result["folds"]) / 2)


def test_fr_fewlabel_submission_joins_leaderboard_and_fr_tables_by_dataset(kadid, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert score(kadid, "fr-fewlabel", "--template", str(tmp_path / "t.csv"),
                 "--set", "protocol.label_fraction=0.5") == 0
    fill(tmp_path / "t.csv", tmp_path / "model.csv")
    assert score(kadid, "fr-fewlabel", str(tmp_path / "model.csv"), "--out", str(runs),
                 "--set", "protocol.label_fraction=0.5") == 0
    results = load_results(runs)
    board = build_leaderboard(results)
    assert board["target"].tolist() == ["kadid10k@0.5"] and board["rank"].tolist() == [1]
    fr = fr_results(results)
    assert len(fr) == 2 and set(fr["test_dataset"]) == {"kadid10k"}
    assert set(fr["label_source"]) == {()}         # human DMOS: no label source


def test_submission_on_a_pseudo_mos_set_records_its_label_source_unmarked(kadid, tmp_path, monkeypatch):
    spec = DATASETS["kadid10k"]
    monkeypatch.setitem(DATASETS, "kadid10k", dataclasses.replace(
        spec, load=lambda root: dataclasses.replace(spec.load(root), label_source=("gmsd", "nlpd"))))
    runs = tmp_path / "runs"
    assert score(kadid, "fr-split", "--template", str(tmp_path / "t.csv")) == 0
    fill(tmp_path / "t.csv", tmp_path / "model.csv")
    assert score(kadid, "fr-split", str(tmp_path / "model.csv"), "--out", str(runs)) == 0
    fr = fr_results(load_results(runs))
    assert set(fr["label_source"]) == {("gmsd", "nlpd")}
    board = build_leaderboard(load_results(runs))
    assert board["mark"].tolist() == [""] and board["rank"].tolist() == [1]
    assert board.attrs["notes"] == []              # the notes explain marks; none shown


def test_fr_cross_scores_the_target_though_its_folds_need_the_training_set(kadid, tmp_path, capsys):
    from layouts import build_tid2013

    tid = build_tid2013(tmp_path / "tid")
    args = ["--protocol", "fr-cross", "--dataset", "kadid10k", "--train", "tid2013",
            "--set", f"data.kadid10k={kadid}", "--set", f"data.tid2013={tid}"]
    assert cli_main(["score", "--template", str(tmp_path / "t.csv"), *args]) == 0
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert sorted(r["image"] for r in rows) == sorted(MOS)          # every KADID pair, once
    with open(tmp_path / "model.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "prediction"])
        w.writerows([im, prediction(im, "s0")] for im in MOS)
    capsys.readouterr()
    assert cli_main(["score", str(tmp_path / "model.csv"), "--json", *args]) == 0
    (fold,) = json.loads(capsys.readouterr().out)["folds"]
    images = list(MOS)
    expected = stats.spearmanr([prediction(i, "s0") for i in images], [MOS[i] for i in images])[0]
    assert fold["target"] == "kadid10k" and fold["srocc"] == pytest.approx(expected)
