"""`python -m bench compare A B`: a paired test between two methods on the same folds,
splits and seeds (runs whose configs differ only in the method), per protocol: the pairs
table, the mean difference, and the p-values of the paired t-test and the Wilcoxon
signed-rank test. See :mod:`reports.compare`.
"""
from __future__ import annotations

from pathlib import Path

from ..core.errors import BenchError
from .options import add_runs_argument

NAME = "compare"
HELP = "paired test (t-test, Wilcoxon) between two methods' runs on the same folds/splits/seeds"


def add_arguments(parser) -> None:
    """Register the compare options."""
    parser.add_argument("a", metavar="A", help="first method (registry name, e.g. cis)")
    parser.add_argument("b", metavar="B", help="second method (e.g. erm)")
    add_runs_argument(parser, help="folder of run folders to read (default: runs/)")
    parser.add_argument("--metric", default="srocc",
                        choices=("srocc", "plcc", "krcc", "plcc_logistic"),
                        help="metric compared (default: srocc)")
    parser.add_argument("--protocol", help="compare under this protocol only")
    from .options import add_selection_argument

    add_selection_argument(parser)
    parser.add_argument("--match", default="config", choices=("config", "images"),
                        help="pair runs whose configs differ only in the method (default), or "
                             "runs tested on the same images (for scored submissions)")


def main(args) -> int:
    """Print the pairs and the tests; BenchError saying what is missing when nothing pairs."""
    from bench.reports.compare import (explain_no_pairs, format_report, pair_runs, resolve_method,
                                 run_table)

    runs = Path(args.runs)
    if not runs.is_dir():
        raise BenchError(f"no runs folder {runs}/; pass --runs DIR")
    table = run_table(runs, args.metric, args.match)
    if getattr(args, "selection", None):
        table = selected_pairs(table, runs, args.selection)
    if args.protocol:
        if not (table["protocol"] == args.protocol).any():
            found = ", ".join(sorted(table["protocol"].unique())) or "none"
            raise BenchError(f"no finished runs of protocol '{args.protocol}' under {runs}/ "
                             f"(protocols found: {found})")
        table = table[table["protocol"] == args.protocol]
    if table.empty:
        raise BenchError(f"no finished runs under {runs}/")
    a, b = resolve_method(table, args.a), resolve_method(table, args.b)
    if a == b:
        raise BenchError(f"A and B are the same method ('{a}'); name two different methods")
    pairs = pair_runs(table, a, b)
    if pairs.empty:
        raise BenchError(explain_no_pairs(table, a, b, args.match))
    print(format_report(pairs, a, b, args.metric, table))
    return 0


def selected_pairs(table, runs: Path, selection: str):
    """The rows of ``table`` (reports.compare.run_table) whose runs ``selection`` chose,
    keyed by protocol, dataset, fold, seed and split: each method's chosen draws differ in
    their searched values, so their configs never match; the folds and seeds do."""
    import json

    from ..app.results import load_results
    from .options import selected

    keep = set(selected(load_results(runs), selection)["run_dir"])
    out = table[table["run_dir"].isin(keep)].copy()
    out["key"] = [json.dumps([r.protocol, r.dataset, r.fold, r.seed, r.split], default=str)
                  for r in out.itertuples()]
    return out
