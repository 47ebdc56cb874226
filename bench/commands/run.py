"""`python -m bench run`: one protocol for one method, fold by fold, then the table.

Before anything is decoded or trained: ``--runs`` and the cache are checked writable and
the free space under ``--runs`` against an estimate of what the run writes. The run prints a
short summary (method, protocol, dataset, profile, seed, folds, run-folder path); the full
resolved config is in each run folder's ``config.json`` and printed by ``--print-config``.
The table's summary rows are the protocol's own (:meth:`bench.engine.protocol.Protocol.summarise`;
spread: sample std, ddof=1, n shown) and say when they cover only some of the folds.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

from .options import add_run_arguments

NAME = "run"
HELP = "train and test a method under a protocol (e.g. --protocol lodo --method cis)"
EPILOG = "`python -m bench list` shows every method, protocol, dataset and their folds."


def add_arguments(p) -> None:
    """`run`'s options: the shared run options, --folds, and what is printed."""
    add_run_arguments(p)
    p.epilog = EPILOG
    p.add_argument("--print-config", "--verbose", dest="print_config", action="store_true",
                   help="print the full resolved config before running")
    p.add_argument("--quiet", action="store_true", help="do not print the run summary line")
    p.add_argument("--jobs", metavar="N",
                   help="processes sharing the folds (default $BENCH_JOBS, else auto: on the "
                        "CPU with a fixed thread count, as the quick profile has, one per "
                        "core; 1 on a GPU); the run folders are the same as with 1")


def _num(v: float, width: int = 8) -> str:
    return f"{'nan':>{width}}" if v is None or math.isnan(v) else f"{v:>{width}.4f}"


def fold_table(records: list, protocol) -> str:
    """One row per fold and target: SROCC, PLCC, KRCC, n; then the protocol's summary row
    (AVERAGE, or 'AVERAGE over k of N folds' when incomplete) with every column filled, and
    the sample std (ddof=1) over the folds."""
    lines = [f"{'fold':<14}{'target':<12}{'SROCC':>8}{'PLCC':>8}{'KRCC':>8}{'n':>7}"]
    for rec in records:
        for target, t in rec.targets.items():
            lines.append(f"{rec.fold[:13]:<14}{target[:11]:<12}{_num(t['srocc'])}{_num(t['plcc'])}"
                         f"{_num(t['krcc'])}{int(t['n']):>7}")
    summary = protocol.summarise(records)
    if len(records) > 1 or any(not s.complete for s in summary.values()):
        for target, s in summary.items():
            name = s.statistic.upper()
            if name == "MEAN":
                name = "AVERAGE"
            if not s.complete:
                name += f" over {s.units} of {s.expected} {s.unit}s"
            lines.append(f"{name:<26}{_num(s['srocc'].value)}{_num(s['plcc'].value)}"
                         f"{_num(s['krcc'].value)}{s.images:>7}")
            if s.units > 1:
                label = f"STD (sample, n={s['srocc'].n})"
                lines.append(f"{label:<26}{_num(s['srocc'].std)}{_num(s['plcc'].std)}"
                             f"{_num(s['krcc'].std)}")
    lines += collapsed_lines(summary)
    return "\n".join(lines)


def collapsed_lines(summary: dict) -> list[str]:
    """One line per target whose runs collapsed (constant or non-finite predictions):
    'COLLAPSED (target): GB, WN - failed fits, not in the average'."""
    return [f"COLLAPSED ({t}): {', '.join(s.collapsed)} - failed fits (constant or non-finite "
            "predictions), not in the average" for t, s in summary.items() if s.collapsed]


def target_table(records: list, protocol) -> str:
    """Targets as column groups of SROCC then PLCC; one row per split (or 'all'), then the
    protocol's summary rows (its statistic, e.g. MEDIAN over splits; STD, sample ddof=1;
    n units) when there are several runs per target."""
    targets = list(dict.fromkeys(t for r in records for t in r.targets))
    by_row: dict = {}
    for rec in records:
        for t, v in rec.targets.items():
            by_row.setdefault(rec.facts.get("split", -1), {})[t] = v
    lines = [f"{'':<16}" + "".join(f"{t[:19]:^20}" for t in targets),
             f"{'split':<16}" + "".join(f"{'SROCC':>10}{'PLCC':>10}" for _ in targets)]
    for split in sorted(by_row):
        row = by_row[split]
        cells = "".join(f"{_num(row[t]['srocc'], 10)}{_num(row[t]['plcc'], 10)}" if t in row
                        else f"{'-':>10}{'-':>10}" for t in targets)
        lines.append(f"{('all' if split == -1 else split)!s:<16}{cells}")
    summary = protocol.summarise(records)
    if len(by_row) > 1 or any(not s.complete for s in summary.values()):
        name = summary[targets[0]].statistic.upper()
        if not all(s.complete for s in summary.values()):
            name += " (incomplete)"
        def row(label, cell):
            return f"{label:<16}" + "".join(cell(summary[t]) for t in targets)

        lines.append(row(name, lambda s: f"{_num(s['srocc'].value, 10)}{_num(s['plcc'].value, 10)}"))
        lines.append(row("STD (sample)", lambda s: f"{_num(s['srocc'].std, 10)}{_num(s['plcc'].std, 10)}"))
        lines.append(row("n", lambda s: f"{s.units}{f'/{s.expected}' if s.expected else ''}".rjust(20)))
    return "\n".join(lines)


def main(args) -> int:
    """Run the folds (each in its run folder; with --jobs, shared with worker processes),
    then print the table."""
    import os

    from ..app.api import execute
    from ..app.fold_workers import parse_jobs
    from .options import spec_from_args

    jobs = parse_jobs(getattr(args, "jobs", None) or os.environ.get("BENCH_JOBS") or "auto")
    spec = spec_from_args(args)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    outcome = execute(spec, jobs=jobs, log=log, announce=not args.quiet,
                      print_config=args.print_config)
    cfg, session, folds = outcome.cfg, outcome.session, outcome.folds
    print(f"\n{cfg['protocol']['name']} / {cfg['method']} / trained on {trained_on(session.folds[0])} "
          f"({cfg['profile']} profile, seed {cfg['seed']})")
    if outcome.records:
        table = target_table if session.protocol.layout == "targets" else fold_table
        print(table(outcome.records, type(session.protocol)))
    for line in outcome.failures:
        print(line)
    busy = outcome.busy
    if busy and not outcome.failures:
        print(f"{len(busy)} of {len(folds)} fold(s) are being run by another worker "
              f"({', '.join(busy[:5])}{', ...' if len(busy) > 5 else ''}); the table above is "
              "incomplete: run the same command again when they finish")
    print(f"\nrun folders: {Path(spec.out).resolve()}")
    return 1 if outcome.failures else 0


def trained_on(fold) -> str:
    """What the fold's model trained on: its labelled sets, then the sets it got without
    MOS, or 'nothing (training-free)'."""
    labelled = [n for n, _ in fold.method_parts()]
    unlabelled = [n for n, _ in fold.unlabelled]
    text = "+".join(dict.fromkeys(labelled)) + "".join(
        f" + {n} without MOS" for n in dict.fromkeys(unlabelled) if n not in labelled)
    return text.lstrip(" +") if labelled or unlabelled else "nothing (training-free)"
