"""`python -m bench run`: one protocol for one method, fold by fold, then the table."""
from __future__ import annotations

import sys
from pathlib import Path

from .options import add_run_arguments, resolve_run_config

NAME = "run"
HELP = "train and test a method under a protocol (e.g. --protocol lodo --method cis)"


def add_arguments(p) -> None:
    add_run_arguments(p)
    p.add_argument("--quiet", action="store_true", help="do not print the resolved config")


def format_table(results: list[dict]) -> str:
    """Per-fold/target table with SROCC, PLCC, KRCC, n and the average row."""
    import numpy as np

    lines = [f"{'fold':<14}{'target':<12}{'SROCC':>8}{'PLCC':>8}{'KRCC':>8}{'n':>6}"]
    sr, pl = [], []
    for m in results:
        for target, t in m["targets"].items():
            lines.append(f"{m['fold']:<14}{target:<12}{t['srocc']:>8.4f}{t['plcc']:>8.4f}"
                         f"{t['krcc']:>8.4f}{t['n']:>6}")
            sr.append(t["srocc"])
            pl.append(t["plcc"])
    if len(sr) > 1:
        lines.append(f"{'AVERAGE':<26}{np.nanmean(sr):>8.4f}{np.nanmean(pl):>8.4f}")
    return "\n".join(lines)


def main(args) -> int:
    from ..runner import prepare, print_config, run_fold

    cfg = resolve_run_config(args)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if not args.quiet:
        print_config(cfg, log)
    session = prepare(cfg, log)
    folds = session.folds
    if args.folds:
        wanted = [f.strip() for f in args.folds.split(",")]
        known = {f.name for f in folds}
        bad = [w for w in wanted if w not in known]
        if bad:
            from ..errors import unknown_choice

            raise unknown_choice("fold", bad[0], known)
        folds = [f for f in folds if f.name in wanted]
    out = Path(args.out)
    results = []
    for k, fold in enumerate(folds, 1):
        m = run_fold(session, fold, out, log, position=f"[{k}/{len(folds)}]")
        if m:
            results.append(m)
    print(f"\n{cfg['protocol']['name']} / {cfg['method']} / {session.folds[0].train[0][0]} "
          f"({cfg['profile']} profile, seed {cfg['seed']})")
    print(format_table(results))
    print(f"\nrun folders: {out.resolve()}")
    return 0
