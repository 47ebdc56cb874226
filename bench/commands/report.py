"""`python -m bench report`: render the paper's tables (LaTeX, HTML, Markdown) with the
published numbers beside the measured ones, the figures, and an ``index.html`` page. The
report is written into a fresh folder that then replaces ``--out`` whole (reports.io), so
an interrupted report leaves the previous one as it was and no stale file survives; an
``--out`` holding anything a report does not write is refused.

With ``--paper`` only the published numbers are rendered (all of Tables 2-12), bold
computed from the numbers, with a note under each table where the paper's own bold or
AVERAGE cells disagree. Without it, a table is rendered when measured runs feed it.

Table 1 (the datasets) is rendered with ``--table1``, and whenever ``--data-root`` or
``--set data.NAME=PATH`` names real releases: the datasets found (the synthetic suite
always, the releases given) beside the paper's Table 1; with ``--paper`` it is the paper's
alone. It needs no runs: ``report --table1`` with no runs renders Table 1 only.

In the HTML view every measured SROCC/PLCC cell also shows a bootstrap 95% interval over
its test images (``--bootstrap N`` resamples, default 1000; 0 turns it off); see
:mod:`reports.bootstrap`. LaTeX and Markdown are unchanged.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import UsageError
from .data import data_paths

NAME = "report"
HELP = "render the paper's tables and figures from finished runs (or --paper: published numbers alone)"
FORMAT_CHOICES = ("latex", "html", "markdown", "all")


def add_arguments(parser) -> None:
    """Register the report options."""
    parser.add_argument("--runs", default="runs", metavar="DIR",
                        help="folder of run folders to read (default: runs/)")
    parser.add_argument("--paper", action="store_true",
                        help="render the published numbers alone (Tables 2-12), no runs needed")
    parser.add_argument("--format", default="all", choices=FORMAT_CHOICES,
                        help="output format (default: all)")
    parser.add_argument("--out", default="report", metavar="DIR",
                        help="output folder (default: report/)")
    parser.add_argument("--tables", default="", metavar="LIST",
                        help="paper tables to render, e.g. 3,12 or 2-5 (default: all)")
    parser.add_argument("--no-figures", action="store_true", help="skip the matplotlib figures")
    parser.add_argument("--table1", action="store_true",
                        help="also render Table 1 (datasets found beside the paper's); implied "
                             "by --data-root / --set")
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder holding the dataset releases, for Table 1")
    parser.add_argument("--set", action="append", default=[], metavar="data.NAME=PATH",
                        help="one release folder for Table 1, e.g. --set data.livec=/d/ChallengeDB_release")
    from .options import add_selection_argument

    add_selection_argument(parser)
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the HTML intervals (default 1000; 0: none)")


def load_runs(runs_dir: Path):
    """The finished runs under ``runs_dir`` as bench.app.results' one-row-per-run DataFrame
    (invalid run folders are named and skipped)."""
    from bench.app.results import load_results

    return load_results(runs_dir)


def _no_runs(why: str) -> int:
    print(f"bench report: {why}.\n"
          "  Render the paper's published tables alone with:  python -m bench report --paper\n"
          "  or produce runs first with the README's main command, then run "
          "`python -m bench report` again.", file=sys.stderr)
    return 1


def _table1(args, paths: dict):
    """Table 1's grid: the paper's alone with --paper, else the datasets found beside it."""
    from bench.reports.table1 import build_table1, collect_datasets

    if args.paper:
        return build_table1(None)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    return build_table1(collect_datasets(args.data_root, paths, log=log))


def _measured(runs_dir: Path, want_table1: bool):
    """(the finished runs as a table or None, '' or why the report cannot go on)."""
    if not runs_dir.is_dir():
        return None, "" if want_table1 else f"no runs: there is no folder {runs_dir}/"
    results = load_runs(runs_dir)
    if results.empty:
        return None, "" if want_table1 else f"no finished runs in {runs_dir}/"
    return results, ""


def main(args) -> int:
    """Render the selected tables (and figures, index page) into a fresh folder that then
    replaces ``--out`` whole; print every file written."""
    from bench.reports.grid import build_grid
    from bench.reports.io import check_replaceable, fresh_folder
    from bench.reports.paper import load_paper_numbers
    from bench.reports.render import FORMATS
    from bench.reports.tables import get_spec, parse_table_ids

    ids = parse_table_ids(args.tables)
    formats = list(FORMATS) if args.format == "all" else [args.format]
    out = Path(args.out)
    paper = load_paper_numbers()
    if args.bootstrap < 0:
        raise UsageError("--bootstrap must be >= 0")
    check_replaceable(out)
    paths = data_paths(args.set)
    want_table1 = bool(args.table1 or args.data_root or paths)
    results, why = (None, "") if args.paper else _measured(Path(args.runs), want_table1)
    if why:
        return _no_runs(why)
    if results is None and not args.paper:
        ids = []                           # Table 1 only

    grids = _grids(ids, results, paper, getattr(args, "selection", None))
    if results is not None:
        from bench.reports.fr import fr_grids

        grids = [g for g in grids if g.has_measured] + fr_grids(results)   # FR tables after
        if not grids and not want_table1:
            seen = sorted({f"{p}/{d}" for p, d in zip(results["protocol"], results["dataset"])})
            which = f"tables {args.tables}" if args.tables else "any paper table"
            print(f"bench report: the finished runs ({', '.join(seen)}) feed none of {which}; "
                  "try without --tables, or --paper for the published numbers alone.",
                  file=sys.stderr)
            return 1

    if results is not None and "html" in formats and args.bootstrap:
        from bench.reports.bootstrap import attach_intervals, describe

        attach_intervals(grids, args.bootstrap)
        for g in grids:
            if any(c.ci is not None for row in g.rows for c in row.cells):
                g.html_notes.append(describe(args.bootstrap))
    if want_table1:
        grids.insert(0, _table1(args, paths))

    with fresh_folder(out) as dest:
        names, figures, unreadable = _write(dest, grids, formats, results, args, paper)
    for name in names:
        print(f"wrote {out / name}")
    if unreadable:
        print(f"bench report: {len(unreadable)} predictions file(s) could not be read, "
              f"e.g. {unreadable[0]}; their scatter plots are missing", file=sys.stderr)
    n_notes = sum(1 for g in grids for n in g.notes if n.startswith("Paper slip"))
    print(f"bench report: {len(grids)} table(s), {len(formats)} format(s)"
          + (f", {sum(len(g.items) for g in figures)} figure(s)" if figures else "")
          + (f"; {n_notes} note(s) on the paper's own bold/AVERAGE cells" if n_notes else "")
          + f" in {out}/")
    return 0


def _grids(ids: list, results, paper, selection) -> list:
    """The tables' grids; with --selection, one grid per table and selection, from the
    runs that selection chose (labels 'table03-type-val', titles naming the selection)."""
    import dataclasses

    from bench.reports.grid import build_grid
    from bench.reports.tables import get_spec

    from ..app.selection import LABELS, parse_selection
    from .options import selected

    names = parse_selection(selection) if results is not None else []
    if not names:
        return [build_grid(get_spec(t), results, paper) for t in ids]
    grids = []
    for name in names:
        chosen = selected(results, name)
        for t in ids:
            spec = get_spec(t)
            spec = dataclasses.replace(spec, suffix=f"-{name}",
                                       title=f"{spec.title}; model selection: {LABELS[name]}",
                                       caption=f"{spec.caption} Model selection: {LABELS[name]}.")
            grids.append(build_grid(spec, chosen, paper))
    return grids


def _write(dest: Path, grids: list, formats: list, results, args, paper):
    """Write the tables, documents, figures and index page into ``dest``: (names written,
    relative to ``dest``; figure groups; unreadable prediction files)."""
    from bench.reports.figures import make_figures
    from bench.reports.html import TableEntry, render_index
    from bench.reports.io import write_atomic
    from bench.reports.render import FORMATS, render_latex_document, render_table

    written: list[str] = []
    entries = []
    for grid in grids:
        entry = TableEntry(grid)
        for fmt in formats:
            name = f"{grid.spec.label}{FORMATS[fmt].suffix}"
            write_atomic(dest / name, render_table(grid, fmt))
            written.append(name)
            entry.files.append((name, name))
        entries.append(entry)
    if "latex" in formats:
        tex = [f"{g.spec.label}.tex" for g in grids]
        write_atomic(dest / "report.tex", render_latex_document(tex))
        written.append("report.tex")
    if "markdown" in formats:
        write_atomic(dest / "report.md", "\n\n".join(render_table(g, "markdown") for g in grids))
        written.append("report.md")

    figures, unreadable = [], []
    if results is not None and not args.no_figures:
        figures, unreadable = make_figures(results, dest / "figures", paper)
        from bench.reports.figures import FigureGroup
        from bench.reports.fr_figures import label_budget_figures

        budget = label_budget_figures(results, dest / "figures")
        figures += [FigureGroup("Full-reference: SROCC vs label budget", budget)] if budget else []
        written += [f.png for g in figures for f in g.items]
        written += [f.pdf for g in figures for f in g.items if f.pdf]
    if "html" in formats:
        what = ("Published numbers of Causal-IQA (ICML 2024), Tables 2-12, bold recomputed."
                if args.paper else "Datasets found (Table 1)." if results is None else
                f"{len(results)} finished runs from {args.runs}/, with the published numbers "
                "beside them (marked '(paper)').")
        write_atomic(dest / "index.html", render_index(entries, figures, summary=what))
        written.append("index.html")
    return written, figures, unreadable
