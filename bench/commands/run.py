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


def fold_table(results: list[dict]) -> str:
    """One row per fold (and target): SROCC, PLCC, KRCC, n, then the AVERAGE row."""
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


def target_table(results: list[dict]) -> str:
    """The paper's layout: targets as column groups of PLCC and SROCC; one row per split
    when there are several, then MEDIAN, MEAN and STD (population) rows."""
    import numpy as np

    targets = list(dict.fromkeys(t for m in results for t in m["targets"]))
    by_split: dict = {}
    for m in results:
        for t, v in m["targets"].items():
            by_split.setdefault(m.get("split", -1), {})[t] = v
    head1 = f"{'':<16}" + "".join(f"{t:^20}" for t in targets)
    head2 = f"{'split':<16}" + "".join(f"{'PLCC':>10}{'SROCC':>10}" for _ in targets)
    lines = [head1, head2]
    for split in sorted(by_split):
        row = by_split[split]
        cells = "".join(f"{row[t]['plcc']:>10.4f}{row[t]['srocc']:>10.4f}" if t in row else f"{'-':>10}{'-':>10}"
                        for t in targets)
        lines.append(f"{('all' if split == -1 else split)!s:<16}{cells}")
    if len(by_split) > 1:
        def col(t, k):
            return np.array([r[t][k] for r in by_split.values() if t in r])
        lines.append(f"{'MEDIAN':<16}" + "".join(
            f"{np.median(col(t, 'plcc')):>10.4f}{np.median(col(t, 'srocc')):>10.4f}" for t in targets))
        lines.append(f"{'MEAN':<16}" + "".join(
            f"{col(t, 'plcc').mean():>10.4f}{col(t, 'srocc').mean():>10.4f}" for t in targets))
        lines.append(f"{'STD':<16}" + "".join(
            f"{col(t, 'plcc').std():>10.4f}{col(t, 'srocc').std():>10.4f}" for t in targets))
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
    trained_on = "+".join(n for n, _ in (session.folds[0].pretrain or session.folds[0].train))
    print(f"\n{cfg['protocol']['name']} / {cfg['method']} / trained on {trained_on} "
          f"({cfg['profile']} profile, seed {cfg['seed']})")
    if results:
        table = target_table if session.protocol.layout == "targets" else fold_table
        print(table(results))
    print(f"\nrun folders: {out.resolve()}")
    return 0
