"""One grouped bar chart per paper table whose rows are held-out folds (LODO: Tables 3 and
12): per fold, one bar per measured method and, hatched beside it, the published value of
the same method in that table. Error bars (sample std over seeds) only where a cell has
two or more seeds. Built from the table's own :class:`~reports.grid.Grid`, so the chart
shows exactly the table's numbers."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.core.display_text import for_matplotlib

from .figure_io import FigureFile, _new_figure as new_figure, save_figure
from .grid import PAPER_SUFFIX, Grid, build_grid
from .measured import METRIC_LABELS, measured_header
from .tables import SPECS

COLOURS = ("#3a7bd5", "#e07b39", "#3aa655", "#c23b3b", "#8e6bbf", "#8c564b", "#d17fb5",
           "#7f7f7f", "#bcbd22", "#17becf")


def _base(label: str) -> str:
    """An entity's method name without what follows it: 'CIS (syn-kadid, measured)' and
    'CIS (paper)' -> 'cis'."""
    return label.removesuffix(PAPER_SUFFIX).split(" (")[0].strip().lower()


def _bars(grid: Grid) -> tuple[list[str], list[tuple[str, int, int | None]], list[int]]:
    """The labels of the fold rows with a measured value (the summary row left out); per
    measured column (label, its column, the column of the same method's published values
    or None); the indices of those rows."""
    labels = [h.text for h in grid.header[-1]][grid.n_stubs:]
    summary = grid.spec.layout_spec.summary_row
    measured = [j for j in range(len(labels)) if any(r.cells[j].source == "measured"
                                                     for r in grid.rows)]
    paper = {_base(labels[j]): j for j in range(len(labels)) if j not in measured}
    rows = [i for i, r in enumerate(grid.rows) if r.stubs[0] != summary
            and any(r.cells[j].value is not None for j in measured)]
    return ([grid.rows[i].stubs[0] for i in rows],
            [(labels[j], j, paper.get(_base(labels[j]))) for j in measured], rows)


def table_bars(results: pd.DataFrame, out_dir: Path,
               paper: pd.DataFrame | None = None) -> list[FigureFile]:
    """One grouped bar chart per paper table whose rows are folds and that has measured
    cells in ``results``; see the module docstring."""
    out = []
    for spec in SPECS.values():
        lay = spec.layout_spec
        if lay.entity_axis != "columns" or "fold" not in lay.measured_shared:
            continue
        grid = build_grid(spec, results, paper)
        if not grid.has_measured:
            continue
        folds, columns, rows = _bars(grid)
        if not folds:
            continue
        fig = new_figure(max(6.4, 0.18 * len(folds) * (len(columns) + 1) + 2), 4.0)
        ax = fig.add_subplot()
        n_bars = sum(1 + (p is not None) for _, _, p in columns)
        width, slot = 0.8 / n_bars, 0
        for k, (label, j, pj) in enumerate(columns):
            colour = COLOURS[k % len(COLOURS)]
            for col, style in ((j, {}), (pj, {"alpha": 0.45, "hatch": "//"})):
                if col is None:
                    continue
                cells = [grid.rows[i].cells[col] for i in rows]
                xs = [x - 0.4 + width * (slot + 0.5) for x in range(len(folds))]
                ys = [math.nan if c.value is None else c.value for c in cells]
                name = label if col == j else f"{_base(label).upper()} (published)"
                ax.bar(xs, ys, width, color=colour, label=for_matplotlib(name), **style)
                spread = [(x, c.value, c.std) for x, c in zip(xs, cells)
                          if c.value is not None and c.n >= 2 and not math.isnan(c.std)]
                if spread:
                    ax.errorbar([s[0] for s in spread], [s[1] for s in spread],
                                yerr=[s[2] for s in spread], fmt="none", ecolor="black",
                                elinewidth=0.8, capsize=2)
                slot += 1
        metric = METRIC_LABELS.get(spec.metrics[0], spec.metrics[0].upper())
        ax.set_xticks(range(len(folds)), [for_matplotlib(f) for f in folds], rotation=60,
                      ha="right", fontsize=8)
        ax.set_ylabel(metric)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(top=1.15)
        ax.legend(fontsize=7, loc="upper right", ncol=min(4, n_bars))
        what = measured_header(spec, _table_runs(grid, results, paper), len(grid.rows) - 1)
        ax.set_title(for_matplotlib(f"Table {spec.id}: {metric} per held-out type "
                                    f"({what})"), fontsize=9)
        caption = (f"Table {spec.id}: measured {metric} per held-out type ({what}) beside the "
                   "published values of the same methods (hatched); error bars: sample std "
                   "over seeds, drawn only where a fold has two or more seeds")
        out.append(save_figure(fig, out_dir, f"table{spec.id:02d}_bars", caption))
    return out


def _table_runs(grid: Grid, results: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """The runs that feed ``grid``'s measured cells (for the profile/seed/fold label)."""
    from . import measured as meas
    from .grid import _paper_methods
    from .paper import load_paper_numbers, paper_table

    ptab = paper_table(grid.spec.id, paper if paper is not None else load_paper_numbers())
    return meas.select_runs(grid.spec, results, _paper_methods(ptab))
