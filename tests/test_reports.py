"""Tests of the reporter: the transcribed paper numbers, the table specs, the LaTeX/HTML/
Markdown rendering (structure checked without a LaTeX install), bold and the notes on the
paper's own slips, measured results beside published ones, figures and `bench report`."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main as cli_main
from bench.reports.grid import build_grid
from bench.reports.paper import load_paper_numbers, paper_table, paper_value
from bench.reports.render import (
    FORMATS,
    escape_html,
    escape_latex,
    escape_markdown,
    render_table,
)
from bench.reports.tables import SPECS, get_spec, parse_table_ids

KADID = ["GB", "LB", "MB", "CD", "CS", "CQ", "CSA1", "CSA2", "JP2K", "JPEG", "WN", "WNCC", "IN",
         "MN", "DENOISE", "BRIGHTEN", "DARKEN", "MS", "JITTER", "NEP", "PIXELATE",
         "QUANTIZATION", "CB", "HS", "CC"]
DISPLAY = {"erm": "Baseline", "metaiqa": "MetaIQA", "cis": "CIS", "cip": "CIP", "cis-c": "CIS\\C"}

# (table, row, group, metric, value, bold) exactly as printed; NaN = '/'.
SAMPLE = [
    (2, "BLIINDS-II", "CID2013", "PLCC", 0.565, False),
    (2, "CIS (Ours)", "KonIQ-10K", "SROCC", 0.881, True),
    (2, "DISTNET-Q3", "CID2013", "PLCC", np.nan, False),
    (3, "CS", "BLIINDS-II", "SROCC", -0.1392, False),
    (3, "AVERAGE", "CIS", "SROCC", 0.8078, True),
    (3, "IN", "BRISQUE", "SROCC", -0.5425, False),
    (4, "CIS\\C", "CID2013", "PLCC", 0.673, False),
    (4, "CIP", "KONIQ-10K", "SROCC", 0.704, True),
    (5, "BASELINE", "LIVE-C", "SROCC", 0.743, False),
    (5, "CIS", "CID2013", "SROCC", 0.895, True),
    (6, "CID2013", "RESNET50", "SROCC", 0.923, True),
    (6, "KONIQ-10K", "RESNET34", "PLCC", 0.923, False),
    (7, "CIS+L", "CID2013", "PLCC", 0.634, False),
    (7, "CIS", "LIVE-C", "PLCC", 0.690, True),
    (8, "CIP+L", "KONIQ-10K", "SROCC", 0.805, False),
    (8, "CIS", "KONIQ-10K", "PLCC", 0.918, True),
    (9, "LIVE-C", "RESNET50", "SROCC", 0.875, False),
    (9, "CID2013", "RESNET50", "PLCC", 0.914, True),
    (10, "CIS+M", "CID2013", "SROCC", 0.686, True),
    (10, "CIP", "LIVE-C", "SROCC", 0.624, False),
    (11, "CIP+M", "CID2013", "SROCC", 0.906, True),
    (11, "CIS", "LIVE-C", "PLCC", 0.847, False),
    (12, "CCS", "HOSA", "SROCC", -0.1390, False),
    (12, "JP2K", "CIS", "SROCC", 0.9593, True),
    (12, "NEPN", "BLLIINDS-II", "SROCC", 0.1219, False),
]

SHAPES = {2: (14, 6), 3: (26, 9), 4: (6, 6), 5: (6, 6), 6: (6, 3), 7: (4, 6), 8: (4, 6),
          9: (6, 3), 10: (4, 6), 11: (4, 6), 12: (25, 9)}


def synthetic_results(tmp_path=None, lodo_folds=KADID[:10], seeds=(0, 1)) -> pd.DataFrame:
    """A one-row-per-run table like bench.app.results.load_results returns."""
    rng = np.random.default_rng(0)
    rows = []

    def add(**kw):
        run = {"protocol": "", "method": "cis", "dataset": "syn-kadid", "target": "",
               "fold": "", "backbone": "smallcnn", "clusters": 2, "train_ratio": np.nan,
               "profile": "quick", "seed": 0, "split": -1, "n": 40}
        run.update(kw)
        run["method_display"] = DISPLAY[run["method"]]
        run["srocc"], run["plcc"] = (float(x) for x in rng.uniform(0.3, 0.9, 2))
        run["krcc"], run["plcc_logistic"] = run["srocc"] * 0.7, run["plcc"]
        run_dir = Path(tmp_path or "runs") / f"run{len(rows):03d}"
        run["run_dir"] = str(run_dir)
        run["predictions"] = f"{run_dir}/predictions.csv"
        rows.append(run)

    for method in ("cis", "cip"):
        for fold in lodo_folds:
            for seed in seeds:
                add(protocol="lodo", method=method, target="syn-kadid", fold=fold, seed=seed)
    for method in ("erm", "cis", "cis-c"):
        for target in ("syn-wild", "livec"):
            add(protocol="cross", method=method, target=target)
            for split in range(3):
                add(protocol="finetune", method=method, target=target, train_ratio=0.8, split=split)
    for c in (1, 3):
        add(protocol="finetune", method="cis", target="livec", clusters=c, train_ratio=0.8, split=0)
    for t in (0.1, 0.5):
        add(protocol="finetune", method="cis", target="livec", train_ratio=t, split=0)
    return pd.DataFrame(rows)


# --- the transcribed numbers -------------------------------------------------------------

@pytest.mark.parametrize("table,row,group,metric,value,bold", SAMPLE)
def test_transcribed_cells(table, row, group, metric, value, bold):
    t = paper_table(table)
    hit = t[(t["row"] == row) & (t["group"] == group) & (t["metric"] == metric)]
    assert len(hit) == 1
    got = hit.iloc[0]
    if np.isnan(value):
        assert np.isnan(got["value"])
    else:
        assert got["value"] == pytest.approx(value, abs=1e-9)
    assert bool(got["bold"]) is bold


def test_every_table_is_a_full_grid_with_expected_counts():
    df = load_paper_numbers()
    assert sorted(df["table"].unique()) == list(range(2, 13))
    for table, (n_rows, n_cols) in SHAPES.items():
        t = paper_table(table, df)
        assert len(t) == n_rows * n_cols, table
        grid = build_grid(SPECS[table])
        assert len(grid.rows) == n_rows, table
        assert {len(r.cells) for r in grid.rows} == {n_cols}, table


def test_method_keys_are_normalised_and_labels_kept_as_printed():
    df = load_paper_numbers()
    t12 = df[df["table"] == 12]
    bl = t12[t12["group"] == "BLLIINDS-II"]
    assert len(bl) == 25 and set(bl["method_name"]) == {"BLIINDS-II"} and set(bl["method"]) == {""}
    t4 = df[(df["table"] == 4) & (df["row"] == "CIS\\C")]
    assert set(t4["method"]) == {"cis-c"} and set(t4["method_name"]) == {"CIS\\C"}
    assert set(df.loc[df["table"] == 6, "method"]) == {"cis"}
    assert set(df.loc[df["table"] == 9, "method"]) == {"cip"}
    known = {"", "erm", "metaiqa", "cis", "cip", "cis-c", "cip-c", "cis+l", "cip+l", "cis+m", "cip+m"}
    assert set(df["method"]) <= known


def test_table6_rows_are_plcc_then_sroc_matching_table5():
    # Table 6's unlabeled rows: the ResNet18 column equals CIS in Table 5 (PLCC, then SROCC).
    for target, label in (("CID2013", "CID2013"), ("LIVE-C", "LIVE-C"), ("KONIQ-10K", "KONIQ-10K")):
        for metric in ("PLCC", "SROCC"):
            assert paper_value(6, label, "RESNET18", metric) == paper_value(5, "CIS", target, metric)


def test_spec_lookup_and_table_list_parsing():
    assert parse_table_ids("3,12") == [3, 12]
    assert parse_table_ids("2-4") == [2, 3, 4]
    assert parse_table_ids("") == list(range(2, 13))
    assert get_spec(3).layout == "types_x_methods" and get_spec(6).layout == "backbones"
    with pytest.raises(Exception, match="valid tables"):
        parse_table_ids("13")


# --- rendering --------------------------------------------------------------------------

def _tabular_rows(tex: str) -> tuple[str, list[str]]:
    body = tex.split(r"\begin{tabular}{", 1)[1]
    spec, body = body.split("}", 1)
    body = body.split(r"\end{tabular}", 1)[0]
    rows = [r.strip() for r in body.split(r"\\")]
    rows = [re.sub(r"\\(toprule|midrule|bottomrule)|\\cmidrule\(lr\)\{\d+-\d+\}", "", r).strip()
            for r in rows]
    return spec, [r for r in rows if r]


def _row_width(row: str) -> int:
    cells = re.split(r"(?<!\\)&", row)
    width = 0
    for cell in cells:
        m = re.match(r"\s*\\multicolumn\{(\d+)\}", cell)
        width += int(m.group(1)) if m else 1
    return width


def assert_latex_well_formed(tex: str) -> None:
    unescaped = re.sub(r"\\[{}]", "", tex)
    depth = 0
    for ch in unescaped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "closing brace without an opening one"
    assert depth == 0, "unbalanced braces"
    begins = re.findall(r"\\begin\{(\w+)\}", tex)
    ends = re.findall(r"\\end\{(\w+)\}", tex)
    assert sorted(begins) == sorted(ends) and begins, (begins, ends)
    spec, rows = _tabular_rows(tex)
    assert re.fullmatch(r"l+c+(\|c+)*", spec)   # '|': the rule between column groups
    for row in rows:
        assert _row_width(row) == len(spec.replace("|", "")), row


@pytest.mark.parametrize("table", sorted(SPECS))
def test_latex_structure_paper_only(table):
    tex = render_table(build_grid(SPECS[table]), "latex")
    assert_latex_well_formed(tex)
    assert r"\toprule" in tex and r"\bottomrule" in tex


@pytest.mark.parametrize("table", [3, 5, 6])
def test_latex_structure_with_measured(table):
    tex = render_table(build_grid(SPECS[table], synthetic_results()), "latex")
    assert_latex_well_formed(tex)
    assert r"$\pm$" in tex


def test_escaping():
    assert escape_latex("CIS\\C") == r"CIS\textbackslash{}C"
    assert escape_latex("a_b 5% R&D #1 {x}") == r"a\_b 5\% R\&D \#1 \{x\}"
    assert escape_latex("CIS+L") == "CIS+L"
    assert escape_html('<a & "b">') == "&lt;a &amp; &quot;b&quot;&gt;"
    assert escape_markdown("CIS\\C | x_y") == "CIS\\\\C \\| x\\_y"
    tex = render_table(build_grid(SPECS[4]), "latex")
    assert r"CIS\textbackslash{}C & 0.673" in tex
    assert "CIS\\C &" not in tex


def test_measured_labels_are_escaped_in_every_format():
    res = synthetic_results()
    res.loc[res["protocol"] == "cross", "dataset"] = "a&b_<x>"
    grid = build_grid(SPECS[4], res)
    assert r"a\&b\_<x>" in render_table(grid, "latex")
    assert "a&amp;b_&lt;x&gt;" in render_table(grid, "html")
    assert "a&b\\_\\<x\\>" in render_table(grid, "markdown")


def test_bold_is_computed_per_row_in_lodo_tables():
    grid = build_grid(SPECS[12])
    labels = [h.text for h in grid.header[-1]][grid.n_stubs:]
    rows = {r.stubs[0]: r for r in grid.rows}
    jp2k = rows["JP2K"]
    assert [labels[j] for j, c in enumerate(jp2k.cells) if c.bold] == ["CIP"]
    assert [labels[j] for j, c in enumerate(jp2k.cells) if c.paper_bold] == ["CIS"]
    gb3 = {r.stubs[0]: r for r in build_grid(SPECS[3]).rows}["GB"]
    assert sum(c.bold for c in gb3.cells) == 1 and gb3.cells[labels.index("CIS")].bold


def test_bold_is_computed_per_column_in_method_tables():
    grid = build_grid(SPECS[10])
    # CID2013 SROCC: CIS+M (0.686) beats CIP (0.683); CID2013 PLCC: CIP+M (0.727).
    by_row = {r.stubs[0]: r for r in grid.rows}
    assert by_row["CIS+M"].cells[1].bold and not by_row["CIP"].cells[1].bold
    assert by_row["CIP+M"].cells[0].bold
    assert sum(r.cells[0].bold for r in grid.rows) == 1


def test_slip_notes_for_known_slips():
    notes12 = " ".join(build_grid(SPECS[12]).notes)
    assert "row JP2K" in notes12 and "CIS (0.9593)" in notes12 and "CIP (0.9647)" in notes12
    assert "row QN" in notes12 and "row MN" in notes12
    notes3 = " ".join(build_grid(SPECS[3]).notes)
    assert "row DARKEN" in notes3 and "row HS" in notes3
    assert "column BRISQUE" in notes3 and "0.4136" in notes3   # printed AVERAGE != mean of rows
    assert any("LIVE-C / SROCC" in n and "no cell" in n for n in build_grid(SPECS[9]).notes)
    assert not build_grid(SPECS[2]).notes and not build_grid(SPECS[5]).notes
    for fmt in FORMATS:
        assert "row JP2K" in render_table(build_grid(SPECS[12]), fmt)


def test_published_dash_cells_render_as_slash():
    md = render_table(build_grid(SPECS[2]), "markdown")
    assert "| BIECON | 0.620 | 0.606 | 0.613 | 0.595 | / | / |" in md


# --- measured results beside the published ones ------------------------------------------

def test_lodo_measured_columns_come_first_and_map_by_abbreviation():
    res = synthetic_results()
    grid = build_grid(SPECS[3], res)
    header = [h.text for h in grid.header[-1]]
    assert header[1:3] == ["CIS (syn-kadid, measured)", "CIP (syn-kadid, measured)"]
    assert header[3] == "BLIINDS-II (paper)"
    rows = {r.stubs[0]: r for r in grid.rows}
    cis = res[(res["protocol"] == "lodo") & (res["method"] == "cis")]
    gb = cis[cis["fold"] == "GB"]["srocc"]
    cell = rows["GB"].cells[0]
    assert cell.value == pytest.approx(gb.mean()) and cell.n == 2
    assert cell.std == pytest.approx(gb.std(ddof=1))
    assert rows["AVERAGE"].cells[0].value == pytest.approx(cis.groupby("fold")["srocc"].mean().mean())
    assert rows["WN"].cells[0].value is None                      # fold not measured
    assert any("over the 10 measured folds of 25" in n for n in grid.notes)
    # The published part's best is computed separately from the measured cells; the bold
    # goes to one group only (the measured one: it has two comparable columns).
    gb = rows["GB"].cells
    assert gb[header.index("CIS (paper)") - 1].best
    assert not any(c.bold for c in gb if c.source == "paper")
    assert sum(c.bold for c in gb if c.source == "measured") == 1
    assert len(grid.rows) == 26


def test_method_table_measured_rows_first_with_extra_target_group():
    res = synthetic_results()
    grid = build_grid(SPECS[5], res)
    assert grid.rows[0].stubs[0] == "Baseline (syn-kadid, measured)"
    assert [r.stubs[0] for r in grid.rows[:3]] == [
        "Baseline (syn-kadid, measured)", "CIS\\C (syn-kadid, measured)", "CIS (syn-kadid, measured)"]
    assert grid.rows[3].stubs[0] == "BASELINE (paper)" and grid.rows[3].rule_before
    top = [h.text for h in grid.header[0]]
    assert top[-1] == "syn-wild" and "LIVE-C" in top
    # fine-tune at t=0.8, c=2 only (the sweep runs are left out), three splits each
    cis = res[(res["protocol"] == "finetune") & (res["method"] == "cis") & (res["target"] == "livec")
              & (res["clusters"] == 2) & (res["train_ratio"] == 0.8)]
    live_c_plcc = grid.rows[2].cells[2]
    assert live_c_plcc.n == 3 and live_c_plcc.value == pytest.approx(cis["plcc"].mean())
    html = render_table(grid, "html")
    assert "&plusmn;" in html and "(n=3)" in html
    md = render_table(grid, "markdown")
    assert md.index("CIS (syn-kadid, measured)") < md.index("CIS (paper)")


def test_measured_labels_name_settings_only_where_they_matter():
    res = synthetic_results()
    res.loc[res["method"] == "erm", "clusters"] = np.nan       # no clusters for ERM
    labels = [r.stubs[0] for r in build_grid(SPECS[5], res).rows[:3]]
    assert labels[0] == "Baseline (syn-kadid, measured)" and not any("clusters" in x for x in labels)
    res.loc[res["method"] == "erm", "backbone"] = "resnet18"   # mixed backbones are named
    labels = [r.stubs[0] for r in build_grid(SPECS[5], res).rows[:3]]
    assert labels[0] == "Baseline (syn-kadid, resnet18, measured)"
    assert labels[2] == "CIS (syn-kadid, smallcnn, measured)"
    sweep = res[(res["method"] == "cis") & (res["clusters"] != 2) & (res["train_ratio"] == 0.8)]
    labels = [r.stubs[0] for r in build_grid(SPECS[5], sweep).rows if "measured" in r.stubs[0]]
    assert labels == ["CIS (syn-kadid, content clusters=1, measured)",   # named in words
                      "CIS (syn-kadid, content clusters=3, measured)"]


def test_single_run_cells_show_a_single_value():
    grid = build_grid(SPECS[4], synthetic_results())
    cell = grid.rows[0].cells[2]
    assert cell.n == 1
    text = render_table(grid, "markdown")
    row = next(line for line in text.splitlines() if line.startswith("| Baseline (syn-kadid"))
    assert "±" not in row


def test_table_without_matching_runs_has_no_measured_part():
    grid = build_grid(SPECS[12], synthetic_results())   # only syn-kadid LODO runs
    assert not grid.has_measured
    assert build_grid(SPECS[3], synthetic_results()).has_measured


# --- the command -------------------------------------------------------------------------

def test_report_paper_writes_every_table(tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli_main(["report", "--paper", "--out", str(out)]) == 0
    for t in SPECS:
        for suffix in (".tex", ".html", ".md"):
            assert (out / f"table{t:02d}{suffix}").is_file()
    index = (out / "index.html").read_text()
    assert 'href="./table03.tex"' in index and "Paper slip (row JP2K)" in index
    assert_latex_well_formed((out / "table03.tex").read_text())
    assert "wrote" in capsys.readouterr().out
    assert not list(out.glob(".*"))          # no temporary files left behind


def test_report_paper_selected_tables_and_format(tmp_path):
    out = tmp_path / "rep"
    assert cli_main(["report", "--paper", "--format", "latex", "--tables", "3,12", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.tex", "table03.tex", "table12.tex"]


def test_report_without_runs_says_so(tmp_path, capsys):
    status = cli_main(["report", "--runs", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert status == 1
    assert "--paper" in capsys.readouterr().err


@pytest.mark.slow
def test_report_with_measured_runs_and_figures(tmp_path, monkeypatch, capsys):
    import bench.commands.report as report_cmd

    runs = tmp_path / "runs"
    res = synthetic_results(runs, lodo_folds=KADID[:4], seeds=(0,))
    for path in res["predictions"][:3]:       # a few runs with predictions; the rest missing
        pd.DataFrame({"image": ["a", "b", "c"], "mos": [0.1, 0.5, 0.9],
                      "prediction": [0.2, 0.4, 0.8]}).to_csv(_mkdir(path), index=False)
    monkeypatch.setattr(report_cmd, "load_runs", lambda d: res)
    out = tmp_path / "rep"
    assert cli_main(["report", "--runs", str(runs), "--out", str(out)]) == 0
    written = capsys.readouterr().out
    assert "table03.tex" in written and "table12" not in written   # no TID2013 runs
    assert "table05.html" in written
    index = (out / "index.html").read_text()
    imgs = re.findall(r'<img src="([^"]+)"', index)
    assert any("table03_bars" in i for i in imgs) and any("scatter" in i for i in imgs)
    assert any("curve_clusters" in i for i in imgs) and any("curve_train_ratio" in i for i in imgs)
    for img in imgs:
        assert not img.startswith("/") and (out / img).is_file()
        assert (out / img).with_suffix(".pdf").is_file()
    assert "CIS (syn-kadid, measured)" in (out / "table03.md").read_text()


def _mkdir(path: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p
