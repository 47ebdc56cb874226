"""`python -m bench check`: compare measured metrics with a committed baseline CSV (for CI).

Exits 1 and prints what failed when a measured value falls below ``value - tolerance``,
when the runs of a row are incomplete (fewer folds/splits than the baseline or the protocol
over the dataset), their completeness cannot be verified (dataset not at hand, no ``folds``
count in the baseline) or they mix settings; exits 0 and prints what passed otherwise. A baseline row that no finished
run matches is an error. ``--write-baseline FILE --tolerance X`` writes a baseline from the current runs.
See :mod:`reports.regression` for the baseline format.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..core.errors import BenchError, UsageError
from .options import add_runs_argument

NAME = "check"
HELP = "compare measured metrics with a baseline CSV; exit 1 on a regression (for CI)"


def add_arguments(parser) -> None:
    """Register the check options."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--baseline", metavar="FILE",
                      help="baseline CSV: metric,protocol,method,dataset,value,tolerance "
                           "[,fold,target,backbone,profile,clusters,train_ratio]")
    what.add_argument("--write-baseline", metavar="FILE",
                      help="write a baseline CSV at the current measured values instead")
    add_runs_argument(parser, help="folder of run folders to read (default: runs/)")
    parser.add_argument("--tolerance", type=float, default=0.02, metavar="X",
                        help="tolerance written with --write-baseline (default: 0.02)")
    from .options import add_selection_argument

    add_selection_argument(parser)
    parser.add_argument("--metrics", default="srocc,plcc", metavar="LIST",
                        help="metrics written with --write-baseline (default: srocc,plcc)")


def load_runs(runs_dir: Path):
    """The finished runs under ``runs_dir`` (bench.app.results' one-row-per-run DataFrame);
    invalid folders are named and skipped."""
    from bench.app.results import load_results

    if not runs_dir.is_dir():
        raise BenchError(f"no runs folder {runs_dir}/; pass --runs DIR")
    return load_results(runs_dir)


def main(args) -> int:
    """Run the check (or write a baseline); return the exit status."""
    from bench.reports.io import write_atomic

    from ..core.display_text import clean
    from bench.reports.regression import (
        compare,
        describe,
        format_table,
        load_baseline,
        write_baseline,
    )

    if not math.isfinite(args.tolerance) or args.tolerance < 0:
        raise UsageError(f"--tolerance must be a finite number >= 0, not {args.tolerance}")
    if args.write_baseline:
        metrics = tuple(m.strip().lower() for m in args.metrics.split(",") if m.strip())
        from .options import selected

        runs = selected(load_runs(Path(args.runs)), getattr(args, "selection", None))
        table = write_baseline(runs, args.tolerance, metrics)
        path = write_atomic(args.write_baseline, table.to_csv(index=False, lineterminator="\n"))
        print(f"wrote {path}: {len(table)} baseline row(s), tolerance {args.tolerance:g}")
        return 0

    from .options import selected

    baseline = load_baseline(args.baseline)
    results = selected(load_runs(Path(args.runs)), getattr(args, "selection", None))
    report = compare(baseline, results)
    missing = report[report["status"] == "MISSING"]
    if not missing.empty:
        print(format_table(report))
        raise BenchError("no finished run matches baseline " +
                         "; ".join(describe(r) for _, r in missing.iterrows()))
    unsound = report[report["status"].isin(["MIXED", "INCOMPLETE", "UNVERIFIED"])]
    if not unsound.empty:
        print(f"FAILED: {len(unsound)} of {len(report)} baseline row(s) cannot be compared:")
        print(format_table(unsound))
        for _, r in unsound.iterrows():
            print(f"  {describe(r)}: {r['status']}: {clean(r['why'], 1000)}")
        return 1
    regressed = report[report["status"] == "REGRESSED"]
    if not regressed.empty:
        print(f"REGRESSED: {len(regressed)} of {len(report)} baseline row(s) "
              "(measured < baseline - tolerance):")
        print(format_table(regressed))
        for _, r in regressed.iterrows():
            print(f"  {describe(r)}: measured {r['measured']:.4f} < "
                  f"{r['baseline']:.4f} - {r['tolerance']:.4f}")
        return 1
    print(f"ok: all {len(report)} baseline row(s) pass:")
    print(format_table(report))
    return 0
