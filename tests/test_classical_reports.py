"""Measured classical and zero-shot runs join the LODO tables (3, 12) as measured columns
beside the published ones; any other measured method (a plug-in) joins after them."""
from __future__ import annotations

import pandas as pd
from fake_runs import make_run

from bench.app.results import load_results
from bench.reports.grid import build_grid
from bench.reports.measured import method_matches
from bench.reports.tables import SPECS


def test_method_patterns_select_prefixed_names():
    names = pd.Series(["brisque", "pyiqa:piqe", "pyiqa:musiq", "other", "pyiqa"])
    assert method_matches(names, ("brisque", "pyiqa:*")).tolist() == [True, True, True, False, False]


def test_table3_has_measured_classical_and_zero_shot_columns(tmp_path):
    for method in ("brisque", "hosa", "pyiqa:piqe", "not-a-table-method"):
        for fold in ("GB", "LB"):
            make_run(tmp_path, method=method, fold=fold)
    grid = build_grid(SPECS[3], load_results(tmp_path))
    header = [h.text for h in grid.header[-1]]
    measured = [h for h in header if h.endswith("measured)")]
    assert measured[:2] == ["brisque (syn-kadid, measured)", "hosa (syn-kadid, measured)"]
    assert sorted(measured[2:]) == ["not-a-table-method (syn-kadid, measured)",
                                    "pyiqa:piqe (syn-kadid, measured)"]
    assert "BRISQUE (paper)" in header and "HOSA (paper)" in header
    col = header.index("brisque (syn-kadid, measured)") - grid.n_stubs
    rows = {r.stubs[0]: r.cells[col] for r in grid.rows}
    assert rows["GB"].value is not None and rows["LB"].value is not None
    assert rows["AVERAGE"].value == (rows["GB"].value + rows["LB"].value) / 2
