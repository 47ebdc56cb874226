"""`python -m bench leaderboard`: one row per method x protocol x dataset/target x setting
with the protocol's headline metric (its own summary: LODO mean over folds, cross mean over
seeds, finetune median over splits; ± sample std, n units), best first; ``--html FILE``
writes it as a sortable page linking every row's run folders.
Submissions scored with ``python -m bench score --out DIR`` appear as ``submission:<name>``.
A full-reference metric that built its test set's pseudo-MOS (or agrees with one) is shown
marked '[label source]' / '[~label source]', unranked ('-'), with a note saying why.
See :mod:`reports.leaderboard`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import BenchError
from .options import add_runs_argument, add_selection_argument, selected

NAME = "leaderboard"
HELP = "rank methods per protocol and dataset/target by their headline metric (text, HTML)"


def add_arguments(parser) -> None:
    """Register the leaderboard options."""
    add_runs_argument(parser, help="folder of run folders to read (default: runs/)")
    parser.add_argument("--html", metavar="FILE", help="also write a sortable HTML page")
    parser.add_argument("--protocol", help="show one protocol only")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead")
    add_selection_argument(parser)


def main(args) -> int:
    """Print the leaderboard (and write the HTML page)."""
    import json

    from bench.reports.io import write_atomic
    from bench.reports.leaderboard import build_leaderboard, format_html, format_text, to_records

    from ..app.results import load_results

    runs = Path(args.runs)
    if not runs.is_dir():
        raise BenchError(f"no runs folder {runs}/; pass --runs DIR (run a protocol first, "
                         "or score a submission with `python -m bench score ... --out DIR`)")
    results = selected(load_results(runs), args.selection, many=True)
    if args.protocol:
        results = results[results["protocol"] == args.protocol]
    if results.empty:
        which = f" of protocol '{args.protocol}'" if args.protocol else ""
        raise BenchError(f"no finished runs{which} under {runs}/")
    board = build_leaderboard(results)
    if board.attrs.get("undefined"):
        shown = "; ".join(board.attrs["undefined"][:5])
        print(f"bench: {len(board.attrs['undefined'])} row(s) left out: their headline metric is "
              f"undefined (NaN, e.g. constant predictions): {shown}", file=sys.stderr)
    if args.json:
        print(json.dumps(to_records(board), indent=2))
    else:
        print(format_text(board))
    if args.html:
        page = format_html(board, args.html, source=f"{len(results)} result(s) of finished runs "
                                                      f"under {runs}/")
        path = write_atomic(args.html, page)
        if not args.json:
            print(f"\nwrote {path}")
    return 0
