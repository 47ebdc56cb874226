"""Label-source marks beyond the FR tables (issue 13): on a synthetic set whose pseudo-MOS
was computed from GMSD, NLPD and FSIM, a training-free FR metric that is one of them (or
agrees with one at Spearman >= 0.95 on the same test pairs) is marked in the leaderboard and
in the measured paper tables, and kept out of their ranks and bold, even when it has the
best SROCC; the best unmarked method ranks first."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main as cli_main
from bench.app.results import load_results
from bench.reports.fr import CORRELATED, NEAR_MARK, SOURCE_MARK
from bench.reports.grid import build_grid
from bench.reports.leaderboard import build_leaderboard, format_html, format_text, to_records
from bench.reports.render import render_table
from bench.reports.tables import get_spec

from fake_runs import make_run

FOLDS = ("GB", "LB", "MB")
SOURCES = ["gmsd", "nlpd", "fsim"]
# method -> (prediction noise, pyiqa metric or None for a trained method, is FR)
METHODS = {"pyiqa-fr:gmsd": (0.01, "gmsd", True),    # a label source, best SROCC of all
           "pyiqa-fr:ssim": (0.015, "ssim", True),   # agrees with GMSD at rho >= 0.95
           "pyiqa-fr:psnr": (0.6, "psnr", True),     # training-free but not a label source
           "fr-siamese": (0.3, None, True),          # a trained FR method
           "cis": (0.1, None, False)}                # NR: best unmarked


def _fr_facts(folder: Path, metric: str | None, target: str) -> None:
    """Add to a fake run's metrics.json the facts the runner records for an FR method on a
    pseudo-MOS test set (bench/engine/fold.py: n_labelled, method_facts, target_datasets,
    label_source)."""
    path = folder / "metrics.json"
    rec = json.loads(path.read_text())
    rec.update(n_labelled=24, target_datasets={target: "syn-kadid"},
               label_source={target: SOURCES},
               method_facts={"trained": metric is None, **({"pyiqa_metric": metric} if metric else {})})
    path.write_text(json.dumps(rec))


@pytest.fixture()
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    for method, (noise, metric, fr) in METHODS.items():
        for fold in FOLDS:
            folder = make_run(root, "lodo", method, fold=fold, noise=noise, n=60,
                              fold_count=len(FOLDS))
            if fr:
                _fr_facts(folder, metric, "syn-kadid")
    return root


def _mean_srocc(root: Path, method: str) -> float:
    vals = [json.loads(m.read_text())["srocc"] for m in root.rglob("metrics.json")
            if json.loads(m.read_text())["method"] == method]
    return sum(vals) / len(vals)


def test_the_fixture_has_a_label_source_with_the_best_srocc(runs):
    best = max(METHODS, key=lambda m: _mean_srocc(runs, m))
    assert best == "pyiqa-fr:gmsd"
    assert _mean_srocc(runs, "pyiqa-fr:ssim") > _mean_srocc(runs, "cis") > _mean_srocc(runs, "fr-siamese")


def test_leaderboard_marks_label_sources_and_leaves_them_unranked(runs):
    board = build_leaderboard(load_results(runs)).set_index("method")
    assert board.loc["pyiqa-fr:gmsd", "mark"] == SOURCE_MARK
    assert board.loc["pyiqa-fr:ssim", "mark"] == NEAR_MARK
    assert board.loc[["pyiqa-fr:psnr", "fr-siamese", "cis"], "mark"].tolist() == ["", "", ""]
    assert board.loc["pyiqa-fr:gmsd", "rank"] is None and board.loc["pyiqa-fr:ssim", "rank"] is None
    # the unmarked rows are ranked 1.. by their own SROCC, the best unmarked first
    ranked = board[board["mark"] == ""].sort_values("srocc", ascending=False)
    assert ranked.index.tolist() == ["cis", "fr-siamese", "pyiqa-fr:psnr"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert board.loc["pyiqa-fr:gmsd", "srocc"] > board.loc["cis", "srocc"]


def test_leaderboard_text_html_and_json_show_the_marks(runs, tmp_path):
    board = build_leaderboard(load_results(runs))
    text = format_text(board)
    (gmsd,) = [ln for ln in text.splitlines() if "pyiqa-fr:gmsd" in ln]
    assert gmsd.split()[0] == "-" and SOURCE_MARK in gmsd
    (cis,) = [ln for ln in text.splitlines() if ln.split() and ln.split()[-1] != "" and " CIS " in ln]
    assert cis.split()[0] == "1"
    assert "pipeline, not the science" in text and f">= {CORRELATED:g}" in text
    page = format_html(board, tmp_path / "board.html")
    assert f"pyiqa-fr:gmsd {SOURCE_MARK}" in page and f"pyiqa-fr:ssim {NEAR_MARK}" in page
    assert '<td class="num" data-value="nan">-</td>' in page and 'class="note"' in page
    recs = {r["method"]: r for r in to_records(board)}
    assert recs["pyiqa-fr:gmsd"]["rank"] is None and recs["cis"]["rank"] == 1


def test_leaderboard_command_prints_the_marks(runs, capsys):
    assert cli_main(["leaderboard", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert SOURCE_MARK in out and "not ranked or bold" in out


def _table3(runs, fmt: str) -> str:
    return render_table(build_grid(get_spec(3), load_results(runs)), fmt)


def _md_column(table: str, label: str) -> list[str]:
    """The cells of the column whose header contains ``label``, in Markdown."""
    lines = [ln for ln in table.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    (j,) = [i for i, h in enumerate(head) if label in h]
    return [[c.strip() for c in ln.strip("|").split("|")][j] for ln in lines[2:]]


def test_table3_marks_label_sources_in_every_format(runs):
    grid = build_grid(get_spec(3), load_results(runs))
    measured = [h.text for h in grid.header[-1] if "measured" in h.text]
    assert [h for h in measured if h.endswith(SOURCE_MARK)] == ["pyiqa-fr:gmsd (syn-kadid, measured) [label source]"]
    assert [h for h in measured if h.endswith(NEAR_MARK)] == [f"pyiqa-fr:ssim (syn-kadid, measured) {NEAR_MARK}"]
    # marked columns come after the unmarked measured ones
    assert [bool(h.endswith("]")) for h in measured] == sorted(bool(h.endswith("]")) for h in measured)
    assert "[label source]" in _table3(runs, "latex") and "[label source]" in _table3(runs, "html")
    assert "\\[label source\\]" in _table3(runs, "markdown")


def test_table3_never_bolds_a_label_source_and_says_why(runs):
    grid = build_grid(get_spec(3), load_results(runs))
    assert any("not ranked or bold" in n for n in grid.notes)
    assert any("pipeline, not the science" in n for n in grid.notes)
    md = _table3(runs, "markdown")
    gmsd = _md_column(md, "gmsd")
    cis = _md_column(md, "CIS (syn-kadid")
    assert sum(c not in ("", "/") for c in gmsd) == len(FOLDS) + 1      # the folds and AVERAGE
    assert not any("**" in c for c in gmsd + _md_column(md, "ssim"))
    # the best unmarked measured method takes the bold in every measured fold row; its
    # AVERAGE over fewer folds than the table's is flagged (†) and never bold
    rows = [i for i, c in enumerate(cis) if c and c != "/"]
    assert rows and all(cis[i].startswith("**") for i in rows[:-1])
    assert cis[rows[-1]].endswith("†") and "**" not in cis[rows[-1]]
