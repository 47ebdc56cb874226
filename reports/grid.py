"""Assemble one table -- published cells and optionally measured ones -- into a
format-free :class:`Grid` that the templates render; compute bold cells from the numbers
and write the notes on where the paper's own bold (or AVERAGE) cells disagree with them.

Layout-generic: the table's :class:`~reports.tables.Layout` says which axis holds the
entities (methods/backbones) and which the shared keys (datasets x metrics, or distortion
types); nothing here branches on a table id.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from . import measured as meas
from .paper import load_paper_numbers, paper_table
from .tables import TableSpec

PAPER_SUFFIX = " (paper)"
# Half a unit of the last printed digit for the AVERAGE and for each averaged row.
_AVERAGE_SLACK = {3: 1e-3, 4: 1e-4}


@dataclass
class Cell:
    """One body cell. ``value`` None: nothing to show (``missing`` is printed instead:
    '/' where the paper reports nothing, '' where the cell does not apply)."""

    value: float | None = None
    std: float = math.nan
    n: int = 1
    bold: bool = False
    source: str = "paper"           # 'paper' | 'measured'
    missing: str = ""
    digits: int = 3
    paper_bold: bool = False        # what the paper printed (published cells only)
    text: str | None = None         # a text cell (Table 1); printed as is, escaped
    metric: str = ""                # measured cells: the results column ('srocc', 'plcc')
    parts: tuple = ()               # measured cells: groups of (predictions, target) runs
    ci: object = None               # measured cells: a reports.bootstrap.Interval (HTML only)
    mark: str = ""                  # a label-source mark: shown, never bold
    best: bool = False              # best of its source in its printed row/column
    flag: str = ""                  # a footnote mark after the value (a partial average)


@dataclass
class HeaderCell:
    """A header cell spanning ``span`` columns; ``rule``: underline it (LaTeX cmidrule)."""

    text: str
    span: int = 1
    rule: bool = False


@dataclass
class Row:
    """A body row: its stub label(s), its cells, and whether a rule separates it from above."""

    stubs: list[str]
    cells: list[Cell]
    rule_before: bool = False


@dataclass
class Grid:
    """A rendered-format-free table: header rows (stub columns included), body rows, notes.
    ``groups``: the value columns' groups, left to right, as (label, width) pairs, e.g.
    the measured columns then the published ones (empty: one group); LaTeX draws a rule
    between them."""

    spec: TableSpec
    header: list[list[HeaderCell]]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    n_stubs: int = 1
    html_notes: list[str] = field(default_factory=list)   # shown in the HTML view only
    groups: list[tuple[str, int]] = field(default_factory=list)

    @property
    def n_columns(self) -> int:
        """Total column count, stub columns included."""
        return self.n_stubs + (len(self.rows[0].cells) if self.rows else 0)

    @property
    def has_measured(self) -> bool:
        """Whether any cell comes from measured runs."""
        return any(c.source == "measured" and c.value is not None
                   for row in self.rows for c in row.cells)

    @property
    def caption(self) -> str:
        """The paper's caption, prefixed with the table number."""
        return f"Table {self.spec.id}. {self.spec.caption}"


@dataclass
class _Axis:
    """Ordered keys of one axis with their printed labels."""

    keys: list[tuple] = field(default_factory=list)
    labels: dict[tuple, tuple[str, ...]] = field(default_factory=dict)

    def add(self, key: tuple, label: tuple[str, ...]) -> None:
        if key not in self.labels:
            self.keys.append(key)
            self.labels[key] = label


def _paper_methods(ptab: pd.DataFrame) -> list[str]:
    """Registry names of the methods in a published table, in the paper's order."""
    return [m for m in dict.fromkeys(ptab["method"]) if m]


def build_grid(spec: TableSpec, results: pd.DataFrame | None = None,
               paper: pd.DataFrame | None = None) -> Grid:
    """Build the grid of table ``spec``: measured entities first (when ``results`` has runs
    that feed this table), then the published ones; bold and notes computed."""
    lay = spec.layout_spec
    ptab = paper_table(spec.id, paper if paper is not None else load_paper_numbers())
    pmethods = _paper_methods(ptab)
    runs = meas.label_entities(spec, meas.select_runs(spec, results, pmethods), pmethods) \
        if results is not None else pd.DataFrame()
    agg = meas.aggregate(spec, runs) if not runs.empty else {}
    with_measured = bool(agg)

    # Shared axis: the paper's keys in order, measured extras, the summary row last.
    shared = _Axis()
    for _, r in ptab.iterrows():
        shared.add(tuple(r[c] for c in lay.paper_shared), tuple(r[c] for c in lay.shared_labels))
    summary = (lay.summary_row,) if lay.summary_row else None
    extras = _Axis()
    for cells in agg.values():
        for skey in cells:
            if skey not in shared.labels:
                extras.add(skey, _measured_shared_label(skey))
    if summary and summary in shared.labels:
        shared.keys.remove(summary)
        shared.keys += extras.keys + [summary]
    else:
        shared.keys += extras.keys
    shared.labels.update(extras.labels)

    # Entity axis: measured entities first, then the published ones.
    entities: list[tuple[str, str, dict[tuple, Cell]]] = []   # (label, source, cells)
    if with_measured:
        labels = dict(zip(runs["entity_key"], runs["entity_label"]))
        for ekey, cells in agg.items():
            entities.append((labels[ekey], "measured",
                             _measured_cells(spec, cells, summary)))
    for name, grp in ptab.groupby(lay.paper_entity, sort=False):
        cells = {}
        for _, r in grp.iterrows():
            v = r["value"]
            cells[tuple(r[c] for c in lay.paper_shared)] = Cell(
                None if pd.isna(v) else float(v), source="paper", missing="/",
                digits=spec.digits, paper_bold=bool(r["bold"]))
        entities.append((name + (PAPER_SUFFIX if with_measured else ""), "paper", cells))

    matrix = [[ent[2].get(k) or Cell(digits=spec.digits, source=ent[1]) for k in shared.keys]
              for ent in entities]                      # entity-major
    if lay.entity_axis == "columns":
        matrix = [list(col) for col in zip(*matrix)]   # printed rows = shared keys
        row_labels = [shared.labels[k] for k in shared.keys]
        col_labels = [(e[0],) for e in entities]
    else:
        row_labels = [(e[0],) for e in entities]
        col_labels = [shared.labels[k] for k in shared.keys]

    if summary:
        _flag_partial_averages(entities, shared.keys, summary, lay.entity_axis, matrix)
    _mark_bold(matrix, spec.bold)
    row_names = [" / ".join(x for x in lbl if x) for lbl in row_labels]
    col_names = [" / ".join(x for x in lbl if x) for lbl in col_labels]
    notes = _bold_slips(matrix, spec.bold, row_names, col_names)
    if summary:
        notes += _summary_notes(spec, ptab, summary[0])
        notes += _coverage_notes(spec, entities, shared.keys, summary)
    notes += meas.mark_notes(runs)
    if with_measured:
        notes += meas.completeness_notes(spec, agg, dict(zip(runs["entity_key"], runs["entity_label"])))

    rows = []
    sources = [e[1] for e in entities]
    for i, (lbl, cells) in enumerate(zip(row_labels, matrix)):
        rule = (lay.entity_axis == "rows" and i > 0 and sources[i] != sources[i - 1]) or \
               (lay.entity_axis == "columns" and summary is not None and
                shared.keys[i] == summary)
        rows.append(Row(list(lbl), cells, rule_before=rule))
    _blank_repeated_stubs(rows)
    header, n_stubs = _header(lay, col_labels)
    groups = []
    if with_measured:
        measured_note = meas.measured_header(spec, runs, n_keys=len(
            [k for k in shared.keys if k != summary]))
        if lay.entity_axis == "columns":
            n_meas = sources.count("measured")
            groups = [(f"measured: {measured_note}", n_meas),
                      ("published (paper)", len(sources) - n_meas)]
        notes.insert(0, f"Measured {'columns' if groups else 'rows'}: {measured_note}.")
    return Grid(spec, header, rows, list(spec.remarks) + notes, n_stubs, groups=groups)


def _measured_shared_label(skey: tuple) -> tuple[str, ...]:
    """Printed label of a shared key only measured runs have (e.g. target 'syn-wild')."""
    return tuple(str(k) for k in skey)


def _measured_cells(spec: TableSpec, cells: dict, summary: tuple | None) -> dict[tuple, Cell]:
    """Cells of one measured entity; the summary (AVERAGE) is the mean of its other cells."""
    out = {k: Cell(a.mean, a.std, a.n, source="measured", digits=spec.digits, metric=a.metric,
                   parts=(a.runs,), mark=a.mark)
           for k, a in cells.items()}
    if summary:
        body = [c for k, c in out.items() if k != summary]
        if body:
            metrics = {c.metric for c in body}
            out[summary] = Cell(sum(c.value for c in body) / len(body), source="measured",
                                digits=spec.digits, metric=metrics.pop() if len(metrics) == 1 else "",
                                parts=tuple(p for c in body for p in c.parts), mark=body[0].mark)
    return out


def _lines(matrix: list[list[Cell]], rule: str) -> list[list[Cell]]:
    """The printed rows or printed columns of a matrix, per the bold rule."""
    return matrix if rule == "row" else [list(c) for c in zip(*matrix)] if matrix else []


def _mark_bold(matrix: list[list[Cell]], rule: str) -> None:
    """Find the best value of every printed row/column separately among published and among
    measured cells (they come from different data; ``Cell.best``), then bold one group's
    best only, so that a line has one bold (ties all bold): the measured group where the
    line has two comparable measured cells, the published group otherwise. Marked cells
    (label sources, partial averages) are never best."""
    for line in _lines(matrix, rule):
        group = "paper"
        for source in ("paper", "measured"):
            vals = [c for c in line if c.source == source and c.value is not None and not c.mark]
            if len(vals) < 2:
                continue
            group = source            # measured wins where it has two comparable cells
            best = max(c.value for c in vals)
            for c in vals:
                c.best = abs(c.value - best) < 1e-12
        for c in line:
            c.bold = c.best and c.source == group


def _fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}f}"


def _bold_slips(matrix, rule: str, row_names: list[str], col_names: list[str]) -> list[str]:
    """Notes for every printed row/column where the paper's bold differs from the best value."""
    notes = []
    lines = _lines(matrix, rule)
    line_names, other_names = (row_names, col_names) if rule == "row" else (col_names, row_names)
    for name, line in zip(line_names, lines):
        pub = [(other_names[j], c) for j, c in enumerate(line) if c.source == "paper"]
        printed = [(n, c) for n, c in pub if c.paper_bold]
        computed = [(n, c) for n, c in pub if c.best]
        if [n for n, _ in printed] == [n for n, _ in computed]:
            continue
        shown = ", ".join(f"{n.removesuffix(PAPER_SUFFIX)} ({_fmt(c.value, c.digits)})"
                          for n, c in printed) or "no cell"
        best = ", ".join(f"{n.removesuffix(PAPER_SUFFIX)} ({_fmt(c.value, c.digits)})"
                         for n, c in computed)
        notes.append(f"Paper slip ({rule} {name.removesuffix(PAPER_SUFFIX)}): the paper "
                     f"prints {shown} in bold, but the best value is {best}.")
    return notes


def _summary_notes(spec: TableSpec, ptab: pd.DataFrame, summary: str) -> list[str]:
    """Notes where the paper's printed AVERAGE differs from the mean of its printed rows by
    more than rounding can explain."""
    lay = spec.layout_spec
    shared_col = lay.paper_shared[0]
    body = ptab[ptab[shared_col] != summary]
    printed = ptab[ptab[shared_col] == summary].set_index(lay.paper_entity)["value"]
    slack = _AVERAGE_SLACK.get(spec.digits, 10.0 ** -spec.digits)
    notes = []
    for name, grp in body.groupby(lay.paper_entity, sort=False):
        mean = grp["value"].mean()
        if name in printed.index and abs(mean - printed[name]) > slack:
            notes.append(f"Paper slip (row {summary}, column {name}): the paper prints "
                         f"{_fmt(printed[name], spec.digits)}, but the mean of its "
                         f"{grp['value'].notna().sum()} printed rows is "
                         f"{_fmt(mean, spec.digits)}.")
    return notes


PARTIAL_FLAG = "†"


def _coverage_notes(spec, entities, keys, summary) -> list[str]:
    """Say when a measured AVERAGE covers fewer folds than the table has rows (its cell is
    flagged † and never bold: it does not compare with the full published averages)."""
    n_rows = len([k for k in keys if k != summary])
    notes = []
    for label, source, cells in entities:
        n = len([k for k, c in cells.items() if k != summary and c.value is not None])
        if source == "measured" and n < n_rows:
            notes.append(f"{PARTIAL_FLAG} {label}: {summary[0]} is over the {n} measured folds "
                         f"of {n_rows}, a partial average set apart from the full ones.")
    return notes


def _flag_partial_averages(entities, keys, summary, entity_axis, matrix) -> None:
    """Flag (†) and keep out of bold the summary cell of every measured entity that has
    fewer body cells than the table has rows."""
    n_rows = len([k for k in keys if k != summary])
    for i, (_, source, cells) in enumerate(entities):
        n = len([k for k, c in cells.items() if k != summary and c.value is not None])
        if source != "measured" or n >= n_rows:
            continue
        j = keys.index(summary)
        cell = matrix[j][i] if entity_axis == "columns" else matrix[i][j]
        if cell.value is not None:
            cell.flag = PARTIAL_FLAG
            cell.mark = cell.mark or "partial"


def _blank_repeated_stubs(rows: list[Row]) -> None:
    """Print a multi-level stub label (e.g. the dataset in Tables 6/9) once per group."""
    prev = None
    for row in rows:
        if len(row.stubs) > 1:
            first = row.stubs[0]
            if first == prev:
                row.stubs[0] = ""
            prev = first


def _header(lay, col_labels: list[tuple[str, ...]]) -> tuple[list[list[HeaderCell]], int]:
    """Header rows: a grouped top level (with rules) when column labels have two levels."""
    n_stubs = len(lay.stub_headers) if lay.entity_axis == "columns" else 1
    stubs = list(lay.stub_headers) if lay.entity_axis == "columns" else [lay.stub_headers[0]]
    depth = max(len(lbl) for lbl in col_labels) if col_labels else 1
    if depth == 1:
        return [[HeaderCell(s) for s in stubs] + [HeaderCell(lbl[0]) for lbl in col_labels]], n_stubs
    top = [HeaderCell("") for _ in stubs]
    for lbl in col_labels:
        if len(top) > n_stubs and top[-1].text == lbl[0]:
            top[-1].span += 1
        else:
            top.append(HeaderCell(lbl[0], 1, rule=True))
    bottom = [HeaderCell(s) for s in stubs] + [HeaderCell(lbl[-1]) for lbl in col_labels]
    return [top, bottom], n_stubs
