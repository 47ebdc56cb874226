"""Paper-ready measured tables (issue 22): a measured Table 3 in LaTeX fits a column
(adjustbox), names its column groups (measured: profile, seeds, folds | published) with a
rule between them, bolds one cell per row, and sets a partial AVERAGE apart (†, a note).
Compiled with pdflatex where it is installed; its structure is checked everywhere."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from bench.reports.grid import PARTIAL_FLAG, build_grid
from bench.reports.render import render_latex_document, render_table
from bench.reports.tables import SPECS

from test_reports import _tabular_rows, assert_latex_well_formed, synthetic_results


@pytest.fixture(scope="module")
def table3():
    grid = build_grid(SPECS[3], synthetic_results())   # CIS and CIP on 10 of 25 folds, 2 seeds
    return grid, render_table(grid, "latex")


def test_table3_latex_fits_the_column_and_names_its_groups(table3):
    grid, tex = table3
    assert_latex_well_formed(tex)
    assert tex.index(r"\begin{adjustbox}{max width=\linewidth}") < tex.index(r"\begin{tabular}")
    assert tex.index(r"\end{tabular}") < tex.index(r"\end{adjustbox}")
    spec, rows = _tabular_rows(tex)
    assert spec == "l" + "cc" + "|" + "c" * 9          # measured | published
    group = rows[0]
    assert r"\multicolumn{2}{c}{measured: quick profile, 2 seeds (0-1), 10 of 25 folds}" in group
    assert r"\multicolumn{9}{c}{published (paper)}" in group
    assert r"\cmidrule(lr){2-3}\cmidrule(lr){4-12}" in tex
    assert r"\usepackage{adjustbox}" in render_latex_document(["table03.tex"])


def test_one_bold_per_row_and_a_partial_average_set_apart(table3):
    grid, tex = table3
    for row in grid.rows:
        assert sum(c.bold for c in row.cells) <= 1, row.stubs
    measured_rows = [r for r in grid.rows if r.cells[0].value is not None]
    assert all(sum(c.bold for c in r.cells) == 1 for r in measured_rows[:-1])
    average = grid.rows[-1]
    assert average.stubs[0] == "AVERAGE"
    assert all(c.flag == PARTIAL_FLAG and not c.bold for c in average.cells[:2])
    assert average.cells[2:] and any(c.bold for c in average.cells[2:])  # published: full
    line = next(r for r in tex.splitlines() if r.startswith("AVERAGE &"))
    assert line.count(r"\textsuperscript{\textdagger{}}") == 2
    assert any(n.startswith(PARTIAL_FLAG) and "over the 10 measured folds of 25" in n
               for n in grid.notes)


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed")
def test_table3_compiles_in_a_two_column_page(table3, tmp_path):
    _, tex = table3
    (tmp_path / "table03.tex").write_text(tex)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass[twocolumn]{article}\n\\usepackage{booktabs}\n\\usepackage{adjustbox}\n"
        "\\usepackage[T1]{fontenc}\n\\begin{document}\n\\input{table03.tex}\n\\end{document}\n")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:]
    assert not re.search(r"Overfull \\hbox", out.stdout), "the table is wider than the column"
