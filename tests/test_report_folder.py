"""`report` writes into a fresh folder and swaps it in (issue 19, item 11): an interrupted
report leaves the previous one whole, a new one leaves no stale file, and a folder holding
anything a report does not write is never replaced."""
from __future__ import annotations

import pytest

import bench.reports.html
from bench.cli import main as cli_main

from fake_runs import make_run


@pytest.fixture()
def runs(tmp_path):
    root = tmp_path / "runs"
    for fold in ("GB", "LB"):
        make_run(root, "lodo", "cis", fold=fold, noise=0.2)
    make_run(root, "cross", "cis", fold="all", target="syn-wild", noise=0.2)
    return root


def report(runs, out, *extra) -> int:
    return cli_main(["report", "--runs", str(runs), "--out", str(out), "--no-figures",
                     "--bootstrap", "0", *extra])


def test_a_crash_leaves_the_previous_report_whole(runs, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    assert report(runs, out, "--tables", "3") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def crash(*args, **kwargs):
        raise RuntimeError("killed while writing the index page")

    monkeypatch.setattr(bench.reports.html, "render_index", crash)
    with pytest.raises(RuntimeError):
        report(runs, out)                     # would write table04 beside the old index
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep.")]   # no leftovers


def test_stale_files_do_not_survive_a_new_report(runs, tmp_path):
    out = tmp_path / "rep"
    assert report(runs, out) == 0
    assert (out / "table04.md").is_file() and (out / "table03.md").is_file()
    assert report(runs, out, "--tables", "3") == 0
    assert (out / "table03.md").is_file() and not (out / "table04.md").exists()
    assert "Table 4" not in (out / "index.html").read_text()


def test_a_folder_with_other_files_is_not_replaced(runs, tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    assert report(runs, out) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "holds files a report does not write" in err and err.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
