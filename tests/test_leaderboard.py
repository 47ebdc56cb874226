"""`python -m bench leaderboard`: headline metric per method x protocol x dataset/target
(LODO average over folds, cross mean, finetune median over splits), best first, and the
sortable HTML page linking every row's run folders."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main as cli_main
from bench.app.results import load_results
from bench.reports.leaderboard import build_leaderboard, format_html, format_text

from fake_runs import make_run, read_json

FOLDS = ("GB", "LB", "MB")


@pytest.fixture()
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    for method, noise in (("cis", 0.1), ("erm", 0.5)):
        for fold in FOLDS:
            for seed in (0, 1):
                make_run(root, "lodo", method, fold=fold, seed=seed, noise=noise)
        make_run(root, "cross", method, fold="all", target="syn-wild", noise=noise)
        for split in range(3):
            make_run(root, "finetune", method, fold=f"syn-wild-s{split}", target="syn-wild",
                     split=split, noise=noise)
    return root


def _metric(root: Path, protocol: str, method: str, key: str = "srocc") -> list[dict]:
    out = []
    for m in root.rglob("metrics.json"):
        d = read_json(m)
        if d["protocol"] == protocol and d["method"] == method:
            out.append(d)
    return out


def test_headline_per_protocol(runs):
    board = build_leaderboard(load_results(runs))
    assert len(board) == 6                               # 2 methods x (lodo, cross, finetune)
    lodo = board[(board["protocol"] == "lodo") & (board["method"] == "cis")].iloc[0]
    ms = _metric(runs, "lodo", "cis")
    per_fold = [np.mean([m["srocc"] for m in ms if m["fold"] == f]) for f in FOLDS]
    assert lodo["srocc"] == pytest.approx(np.mean(per_fold))
    assert lodo["n_folds"] == 3 and lodo["n_seeds"] == 2 and lodo["n_runs"] == 6
    ft = board[(board["protocol"] == "finetune") & (board["method"] == "erm")].iloc[0]
    assert ft["srocc"] == pytest.approx(np.median([m["srocc"] for m in _metric(runs, "finetune", "erm")]))
    assert ft["plcc"] == pytest.approx(np.median([m["plcc"] for m in _metric(runs, "finetune", "erm")]))
    assert ft["n_splits"] == 3 and ft["target"] == "syn-wild"
    cross = board[(board["protocol"] == "cross") & (board["method"] == "cis")].iloc[0]
    assert cross["srocc"] == pytest.approx(_metric(runs, "cross", "cis")[0]["srocc"])


def test_sorted_best_first_within_blocks(runs):
    board = build_leaderboard(load_results(runs))
    assert list(board["protocol"]) == ["lodo", "lodo", "cross", "cross", "finetune", "finetune"]
    for _, block in board.groupby(["protocol", "dataset", "target"]):
        assert list(block["srocc"]) == sorted(block["srocc"], reverse=True)
        assert list(block["rank"]) == [1, 2]
        assert block.iloc[0]["method"] == "cis"          # less noise wins


def test_settings_are_never_mixed(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "lodo", "cis", fold="GB", noise=0.1)
    make_run(root, "lodo", "cis", fold="GB", noise=0.1, model__backbone="resnet18")
    board = build_leaderboard(load_results(root))
    assert len(board) == 2 and set(board["backbone"]) == {"smallcnn", "resnet18"}
    assert "resnet18" in format_text(board)              # the differing setting is shown


def test_html_is_sortable_and_links_runs(runs, tmp_path):
    html_path = tmp_path / "site" / "board.html"
    html_path.parent.mkdir()
    page = format_html(build_leaderboard(load_results(runs)), html_path)
    assert "<script>" in page and "data-col" in page
    assert not re.search(r"(src|href)=\"https?:", page)      # no CDN, nothing remote
    hrefs = re.findall(r'href="([^"]+config\.json)"', page)
    assert len(hrefs) == 6 * 2 + 2 + 6                      # every run folder of every row
    for href in hrefs:
        assert not href.startswith("/") and (html_path.parent / href).is_file()


def test_command_prints_and_writes_html(runs, tmp_path, capsys):
    html_path = tmp_path / "lb.html"
    assert cli_main(["leaderboard", "--runs", str(runs), "--html", str(html_path)]) == 0
    out = capsys.readouterr().out
    assert "mean of 3 folds" in out and "median of 3 splits" in out and html_path.is_file()
    assert cli_main(["leaderboard", "--runs", str(runs), "--json", "--protocol", "cross"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in rows] == ["cis", "erm"]


def test_command_without_runs_is_one_line_error(tmp_path, capsys):
    assert cli_main(["leaderboard", "--runs", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench: error: no runs folder") and err.count("\n") == 1
