"""`python -m bench score`: outside predictions scored on a protocol's test images, matched by
image name; missing/extra images named; --json, --template and --out (run folders that
join the leaderboard). Data: a tiny KADID-10k release in its official layout (3 types x
2 levels x 2 references)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench.cli import main as cli_main
from bench.app.results import load_results
from bench.core.record import RunFolder

from layouts import KADID10K_ROWS, build_kadid10k

NAMES = [name for name, _ in KADID10K_ROWS]
MOS = {name: (dmos - 1) / 4 for name, dmos in KADID10K_ROWS}
TYPES = {"01": "GB", "13": "IN", "25": "CC"}


@pytest.fixture()
def kadid(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    return build_kadid10k(tmp_path / "kadid")


def score(kadid: Path, *args: str) -> int:
    return cli_main(["score", *args, "--protocol", "lodo", "--dataset", "kadid10k",
                     "--set", f"data.kadid10k={kadid}"])


def prediction(name: str) -> float:
    """A made-up outside model: imperfect, deterministic, on its own scale."""
    return 10 * MOS[name] + (int(name[1:3]) % 7) * 0.9 + int(name[-6:-4]) * 0.05


def write_preds(path: Path, names, prefix: str = "images/", header=("image", "prediction")) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for n in names:
            w.writerow([prefix + n, f"{prediction(n):.6f}"])
    return path


def test_complete_file_scores_like_scipy(kadid, tmp_path, capsys):
    path = write_preds(tmp_path / "model.csv", NAMES)
    assert score(kadid, str(path), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert [f["fold"] for f in result["folds"]] == ["GB", "IN", "CC"]
    for f in result["folds"]:
        names = [n for n in NAMES if TYPES[n[4:6]] == f["fold"]]
        expected = stats.spearmanr([prediction(n) for n in names], [MOS[n] for n in names])[0]
        assert f["n"] == 4 and f["srocc"] == pytest.approx(expected)
        assert f["plcc"] == pytest.approx(stats.pearsonr([prediction(n) for n in names],
                                                         [MOS[n] for n in names])[0])
    assert result["average"]["srocc"] == pytest.approx(np.mean([f["srocc"] for f in result["folds"]]))
    assert result["average"]["n"] == 12 and result["method"] == "submission:model"


def test_one_image_missing_fails_naming_it(kadid, tmp_path, capsys):
    path = write_preds(tmp_path / "p.csv", NAMES[1:])
    assert score(kadid, str(path)) == 1
    err = capsys.readouterr().err
    assert "1 test image(s) have no prediction" in err and "images/I01_01_01.png" in err
    assert err.count("\n") == 1                                  # one line, no traceback


def test_extra_image_fails_naming_it(kadid, tmp_path, capsys):
    path = write_preds(tmp_path / "p.csv", NAMES)
    with open(path, "a") as fh:
        fh.write("images/I05_01_01.png,0.5\n")
    assert score(kadid, str(path)) == 1
    err = capsys.readouterr().err
    assert "not test images" in err and "images/I05_01_01.png" in err and "no prediction" not in err


def test_base_names_empty_cells_and_duplicates(kadid, tmp_path, capsys):
    path = write_preds(tmp_path / "base.csv", NAMES, prefix="")          # base names: accepted
    assert score(kadid, str(path)) == 0
    assert "AVERAGE" in capsys.readouterr().out
    dup = write_preds(tmp_path / "dup.csv", NAMES + NAMES[:1])
    assert score(kadid, str(dup)) == 1
    assert "more than one prediction: images/I01_01_01.png" in capsys.readouterr().err
    rows = (tmp_path / "base.csv").read_text().splitlines()
    rows[3] = rows[3].split(",")[0] + ","                                # not filled in
    (tmp_path / "empty.csv").write_text("\n".join(rows) + "\n")
    assert score(kadid, str(tmp_path / "empty.csv")) == 1
    assert f"have no prediction: images/{NAMES[2]}" in capsys.readouterr().err
    (tmp_path / "cols.csv").write_text("name,score\nx,1\n")
    assert score(kadid, str(tmp_path / "cols.csv")) == 1
    assert "lacks column(s) image, prediction" in capsys.readouterr().err


def test_template_has_one_row_per_test_image(kadid, tmp_path, capsys):
    out = tmp_path / "template.csv"
    assert score(kadid, "--template", str(out)) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["image", "prediction"]
    assert sorted(r["image"] for r in rows) == sorted(f"images/{n}" for n in NAMES)
    assert all(r["prediction"] == "" for r in rows)
    for r in rows:                                                       # filled in, it scores
        r["prediction"] = prediction(r["image"].split("/")[-1])
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["image", "prediction"])
        w.writeheader()
        w.writerows(rows)
    assert score(kadid, str(out)) == 0


def test_out_writes_done_runs_that_join_the_leaderboard(kadid, tmp_path, capsys):
    path = write_preds(tmp_path / "mymodel.csv", NAMES)
    runs = tmp_path / "runs"
    assert score(kadid, str(path), "--out", str(runs), "--name", "outside") == 0
    folders = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(folders) == 3 and all(RunFolder(f).is_finished() for f in folders)
    m = json.loads((folders[0] / "metrics.json").read_text())
    for key in ("srocc", "plcc", "krcc", "plcc_logistic", "n", "targets", "protocol", "fold",
                "method", "method_display", "dataset", "backbone", "profile", "seed"):
        assert key in m
    assert m["method"] == "submission:outside" and m["dataset"] == "kadid10k"
    assert m["kind"] == "submission" and m["schema_version"] == 2
    res = load_results(runs)
    assert len(res) == 3 and set(res["fold"]) == {"GB", "IN", "CC"}
    assert not list(runs.rglob(".*.tmp"))
    capsys.readouterr()
    assert cli_main(["leaderboard", "--runs", str(runs)]) == 0
    assert "outside (submission)" in capsys.readouterr().out


def test_cross_opens_only_the_target(kadid, tmp_path, capsys):
    # cross's default training sets (tid2013, kadid10k) are not needed to score a target
    path = write_preds(tmp_path / "p.csv", NAMES)
    assert cli_main(["score", str(path), "--protocol", "cross", "--dataset", "kadid10k",
                     "--set", f"data.kadid10k={kadid}", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["folds"]) == 1 and result["folds"][0]["n"] == 12
    names, preds = NAMES, [prediction(n) for n in NAMES]
    assert result["folds"][0]["srocc"] == pytest.approx(stats.spearmanr(preds, [MOS[n] for n in names])[0])


def test_template_and_predictions_together_is_a_usage_error(kadid, tmp_path, capsys):
    assert score(kadid, str(tmp_path / "x.csv"), "--template", str(tmp_path / "t.csv")) == 2
    assert "not both" in capsys.readouterr().err


def test_constant_predictions_are_undefined_not_silent(kadid, tmp_path, capsys):
    """Constant predictions: 'nan' shown, exit 1 naming the folds, no run folder written."""
    path = tmp_path / "flat.csv"
    path.write_text("image,prediction\n" + "".join(f"images/{n},0.5\n" for n in NAMES))
    runs = tmp_path / "runs"
    assert score(kadid, str(path), "--out", str(runs)) == 1
    captured = capsys.readouterr()
    assert "nan" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "undefined" in err[0] and "GB/kadid10k" in err[0]
    assert not list(runs.rglob("done"))


def test_template_into_a_folder_is_a_one_line_error(kadid, tmp_path, capsys):
    (tmp_path / "adir").mkdir()
    assert score(kadid, "--template", str(tmp_path / "adir")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--template" in err[0] and "is a folder" in err[0]


def test_a_repeated_prediction_column_is_an_error_not_the_last_one(kadid, tmp_path, capsys):
    """A second 'prediction' column was silently scored (csv.DictReader keeps the last)."""
    path = tmp_path / "p.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "prediction", "prediction"])
        for n in NAMES:
            w.writerow(["images/" + n, f"{prediction(n):.6f}", f"{MOS[n]:.6f}"])
    assert score(kadid, str(path)) == 1
    err = capsys.readouterr().err
    assert "prediction appear more than once" in err and str(path) in err and err.count("\n") == 1
