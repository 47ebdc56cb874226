"""Full-reference tables (issue 13): one table per FR protocol and training set, methods x
test targets, SROCC and PLCC, rendered through the same Grid/templates as the paper tables
(LaTeX, HTML, Markdown) and listed on the index page.

* Runs: those of a full-reference protocol (its class says ``inputs = 'pairs'``) or of a
  full-reference method under another protocol (its record has ``n_labelled``; e.g. LODO).
* A cell is the protocol's own summary over the setting's runs (mean over splits of the
  per-split mean over seeds: ``mean +- sample std (n)``).
* Training-free methods (``method_facts.trained`` false) score the same test pairs under
  every split protocol (fr-split, fr-fewlabel, fr-labelfree share their splits), so their
  runs under one such protocol also fill the tables of the others with the same dataset,
  train ratio and split count (one row, the same numbers: not run again).
* Label source: on a set whose MOS is a pseudo-MOS (the synthetic sets), a training-free
  metric that built the labels (``method_facts.pyiqa_metric`` in the run's
  ``label_source``) is marked ``[label source]``, as is one whose predictions agree with a
  label-source metric's on the same test pairs at Spearman >= :data:`CORRELATED`
  (``[~label source]``). Marked rows are shown but left out of bold and of the rank.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .grid import Cell, Grid, HeaderCell, Row
from .label_source import (  # noqa: F401 - re-exported: the FR tables' marks
    CORRELATED, NEAR_MARK, NOTE_MARKS, NOTE_PSEUDO, SOURCE_MARK, _correlated, _donors, _facts,
    _mark, _summaries, fr_results, is_fr_row, label_source_marks, mark_notes, row_marks,
    strongest)

@dataclass(frozen=True)
class FRTableSpec:
    """What a Grid needs of its spec for an FR table: id (LaTeX number), label (file stem),
    caption and title."""

    id: str
    label: str
    caption: str
    title: str


class FRGrid(Grid):
    """A Grid whose caption is the FR table's own (not 'Table <n>. ...')."""

    @property
    def caption(self) -> str:
        return f"Table {self.spec.id}. {self.spec.caption}"



def _cell(summary, metric: str, digits: int) -> Cell:
    if summary is None:
        return Cell(None, source="measured", missing="-", digits=digits)
    s = summary[metric]
    return Cell(None if s.n == 0 else s.value, s.std, max(s.n, 1), source="measured",
                missing="nan", digits=digits, metric=metric)


def build_fr_grid(host: pd.DataFrame, fr: pd.DataFrame, number: int, digits: int = 3) -> FRGrid:
    """The FR table of one (protocol, training set, backbone, profile) group of rows."""
    protocol, dataset = host["protocol"].iloc[0], host["dataset"].iloc[0]
    targets = list(dict.fromkeys(host["target"]))
    target_ds = dict(zip(host["target"], host["test_dataset"]))
    donors = _donors(fr, host)
    correlated = _correlated(pd.concat([host, donors]))
    entities: list[tuple[str, dict, str]] = []     # (label, target -> Summary, mark)
    marks_used: set[str] = set()
    sources: set[str] = set()
    for (setting, _m), rows in host.groupby(["setting", "method"], sort=False):
        sums = _summaries(rows)
        entities.append((rows["entity"].iloc[0], sums, _mark(rows, correlated)))
    for (donor, _s, _m), rows in donors.groupby(["protocol", "setting", "method"], sort=False):
        their_ds = dict(zip(rows["target"], rows["test_dataset"]))
        by_ds = {their_ds[t]: s for t, s in _summaries(rows).items()}
        sums = {t: by_ds.get(target_ds[t]) for t in targets}
        entities.append((f"{rows['method_display'].iloc[0]} (from {donor})", sums, _mark(rows, correlated)))
    entities.sort(key=lambda e: (e[2] != "", e[0]))
    for _, _, mark in entities:
        if mark:
            marks_used.add(mark)
    pseudo_sets = set()
    for rows in (host, donors):
        for ds, src in zip(rows["test_dataset"], rows["label_source"]):
            if src:
                sources.update(src)
                pseudo_sets.add(ds)
    ranked = [e for e in entities if not e[2]]
    score = {e[0]: _mean_srocc(e[1], targets) for e in ranked}
    ordered = sorted((k for k, v in score.items() if not math.isnan(v)), key=lambda k: -score[k])
    rank = {k: i + 1 for i, k in enumerate(ordered)}
    rows = []
    for label, sums, mark in entities:
        cells = [_cell(sums.get(t), m, digits) for t in targets for m in ("srocc", "plcc")]
        cells.append(Cell(text=str(rank[label]) if label in rank else "-", source="measured"))
        rows.append(Row([f"{label} {mark}".strip()], cells))
    _bold(rows, [not e[2] for e in entities], 2 * len(targets))
    header = [[HeaderCell("METHOD")] + [HeaderCell(t, 2, rule=True) for t in targets] + [HeaderCell("")],
              [HeaderCell("")] + [HeaderCell(m) for _ in targets for m in ("SROCC", "PLCC")]
              + [HeaderCell("RANK")]]
    unit = next(iter(entities[0][1].values())) if entities and entities[0][1] else None
    how = f"{unit.statistic} ± sample std over {unit.unit}s (n)" if unit is not None else ""
    spec = FRTableSpec(f"FR{number}", f"fr{number:02d}_{_slug(protocol)}_{_slug(dataset)}",
                       f"Full-reference results, {protocol} trained on {dataset or 'no set'} "
                       f"({how}); rank by mean SROCC over the columns.",
                       f"FR: {protocol} on {dataset}")
    notes = []
    if sources:
        notes.append(NOTE_PSEUDO.format(sets=", ".join(sorted(pseudo_sets)),
                                        sources=", ".join(sorted(sources)).upper()))
    if marks_used:
        notes.append(NOTE_MARKS.format(rho=CORRELATED))
    if len(donors):
        notes.append("Rows 'from <protocol>' are training-free metrics run under that protocol "
                     "on the same test pairs (same splits).")
    return FRGrid(spec, header, rows, notes)



def _mean_srocc(sums: dict, targets: list) -> float:
    vals = [sums[t]["srocc"].value for t in targets if sums.get(t) is not None]
    return sum(vals) / len(vals) if len(vals) == len(targets) and vals else math.nan


def _bold(rows: list[Row], eligible: list[bool], n_value_cols: int) -> None:
    """Bold the best value of every value column among the eligible (unmarked) rows."""
    for j in range(n_value_cols):
        vals = [r.cells[j].value for r, ok in zip(rows, eligible)
                if ok and r.cells[j].value is not None and not math.isnan(r.cells[j].value)]
        if not vals:
            continue
        for r, ok in zip(rows, eligible):
            v = r.cells[j].value
            r.cells[j].bold = ok and v is not None and abs(v - max(vals)) < 1e-12


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9.-]+", "_", str(text).replace("+", "-plus-")) or "none"


def fr_grids(results: pd.DataFrame | None) -> list[FRGrid]:
    """Every FR table of ``results``: one per (protocol, training set, backbone, profile)."""
    fr = fr_results(results)
    if fr.empty:
        return []
    from bench.app.results import protocol_class

    groups = sorted(fr.groupby(["protocol", "dataset", "backbone", "profile"], sort=True),
                    key=lambda kv: (protocol_class(kv[0][0]).order, kv[0]))
    return [build_fr_grid(host, fr, k + 1) for k, (_, host) in enumerate(groups)]
