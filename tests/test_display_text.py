"""One sanitiser for display text (issue 19, items 6, 7, 11): names from run folders reach
the terminal, Markdown, LaTeX, HTML and matplotlib without control characters, line
breaks or mathtext, capped in length; HTML links are relative URLs."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from bench.cli import main as cli_main
from bench.core.display_text import LIMIT, clean, for_matplotlib
from bench.app.results import load_results
from bench.reports.leaderboard import build_leaderboard, format_html, format_text
from bench.reports.links import relative_url, url_path

from fake_runs import make_run


def test_clean_drops_controls_and_bidi_collapses_whitespace_and_caps():
    assert clean("CIS\x1b[31m red\x07") == "CIS[31m red"
    assert clean("abc\u202edcba\u2066x\u2069") == "abcdcbax"
    assert clean("  two\nlines\r\n\tand\u2028more  ") == "two lines and more"
    long = clean("x" * 2_000_000)
    assert len(long) == LIMIT and long.endswith("...")
    assert clean("CIS (syn-kadid, c=2)") == "CIS (syn-kadid, c=2)"          # unchanged
    assert clean(clean("a\nb\x1b")) == clean("a\nb\x1b")                   # idempotent
    assert for_matplotlib("$\\alpha$ CIS") == "\\$\\alpha\\$ CIS"


def test_relative_urls_never_carry_a_scheme(tmp_path):
    assert url_path("table03.tex") == "./table03.tex"
    assert url_path("javascript:alert(1)") == "./javascript%3Aalert%281%29"
    run = tmp_path / "runs" / "javascript:alert(document.domain)%0A%2F"
    run.mkdir(parents=True)
    assert relative_url(run, tmp_path) == "./runs/javascript%3Aalert%28document.domain%29%250A%252F"


def hostile_runs(root: Path) -> Path:
    """Runs whose method name, fold, target and a setting hold '$...$', an escape
    sequence, bidi overrides and newlines."""
    name = "$\\nosuch$ CIS\x1b[2J\u202eevil\nnext"   # invalid mathtext: crashed savefig
    for fold in ("G$x^$", "L\nB"):
        make_run(root, "lodo", "cis", fold=fold, noise=0.2)
    make_run(root, "cross", "cis", fold="all", target="wild$x$\nline", noise=0.2)
    make_run(root, "lodo", "cis", fold="G$x^$", noise=0.2, train__lr="$1e-3$\n")
    for path in root.rglob("metrics.json"):
        rec = json.loads(path.read_text())
        rec["method_display"] = name
        path.write_text(json.dumps(rec))
    return root


def test_terminal_output_has_no_control_characters_or_line_breaks(tmp_path, capsys):
    root = hostile_runs(tmp_path / "runs")
    assert cli_main(["leaderboard", "--runs", str(root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    rows = [line for line in out.splitlines() if "CIS" in line and not line.startswith("Not")]
    assert len(rows) == 3 and all("evil next" in r for r in rows)   # one row each, intact


@pytest.mark.slow
def test_report_renders_hostile_names_in_every_format(tmp_path, capsys):
    """'$...$' no longer crashes report in matplotlib's mathtext; no newline breaks a
    Markdown or LaTeX row; the index page is written."""
    root = hostile_runs(tmp_path / "runs")
    out = tmp_path / "rep"
    assert cli_main(["report", "--runs", str(root), "--out", str(out), "--tables", "3,4",
                     "--bootstrap", "0"]) == 0
    assert (out / "index.html").is_file() and list((out / "figures").glob("*.png"))
    for f in out.glob("*.md"):
        text = f.read_text()
        assert "\x1b" not in text
        rows = [line for line in text.splitlines() if line.startswith("|")]
        assert rows and all(line.endswith("|") for line in rows)
    for f in out.glob("table*.tex"):
        body = f.read_text().split("\\midrule", 1)[1].split("\\bottomrule")[0]
        for line in body.strip().splitlines():
            assert line.endswith("\\\\") or line == "\\midrule", line
    page = (out / "index.html").read_text()
    assert "\x1b" not in page and "\u202e" not in page


def test_a_two_megabyte_name_does_not_keep_report_busy(tmp_path):
    root = tmp_path / "runs"
    folder = make_run(root, "lodo", "cis", fold="GB", noise=0.2)
    rec = json.loads((folder / "metrics.json").read_text())
    rec["method_display"] = "N" * 2_000_000
    (folder / "metrics.json").write_text(json.dumps(rec))
    start = time.perf_counter()
    assert cli_main(["report", "--runs", str(root), "--out", str(tmp_path / "rep"), "--tables",
                     "3", "--bootstrap", "0"]) == 0
    assert time.perf_counter() - start < 60
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "N" * LIMIT not in page and "N" * (LIMIT - 3) + "..." in page
    assert len(page) < 200_000


def test_a_javascript_run_folder_is_a_relative_link(tmp_path):
    root = tmp_path / "runs"
    folder = make_run(root, "lodo", "cis", fold="GB", noise=0.2)
    hostile = root / "javascript:alert(document.domain)%0A%2F"
    folder.rename(hostile)
    html_path = tmp_path / "board.html"
    assert cli_main(["leaderboard", "--runs", str(root), "--html", str(html_path)]) == 0
    page = html_path.read_text()
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("./") for h in hrefs)
    assert 'href="javascript' not in page.lower()
    assert "./runs/javascript%3Aalert%28document.domain%29%250A%252F/config.json" in hrefs


@pytest.mark.parametrize("clusters,train_ratio", [("two", "0.8x"), ("2", "eighty")])
def test_html_board_with_text_settings_does_not_crash(tmp_path, clusters, train_ratio):
    root = tmp_path / "runs"
    make_run(root, "lodo", "cis", fold="GB", noise=0.2, method_settings__clusters=clusters)
    make_run(root, "finetune", "cis", fold="syn-wild-s0", target="syn-wild", split=0,
             train_ratio=train_ratio, noise=0.2)
    board = build_leaderboard(load_results(root))
    page = format_html(board, tmp_path / "board.html")
    assert clusters in page and train_ratio in page
    assert "cis" in format_text(board).lower()
