"""`python -m bench score PREDICTIONS.csv --protocol P --dataset D`: score the predictions of
any outside model on a protocol's test images, matched by image name (the path relative to
the dataset root, or the base name where unambiguous); missing or extra images are errors
that name them. For LODO each fold's held-out images are scored, then the average. The
full-reference protocols (fr-split, fr-fewlabel, fr-labelfree, fr-cross) score one
prediction per distorted image the same way (its reference plays no part in the matching).

``--template FILE`` writes the CSV to fill in (columns ``image``, ``prediction``; ``fold``
too where images test in several folds, as fine-tune splits). ``--json`` prints the
metrics as JSON. ``--runs DIR`` stores the result as done run folders (method
``submission:<name>``, ``--name`` defaulting to the CSV's stem), so it joins the leaderboard.
Metrics undefined on a test set (NaN: constant predictions) are shown as 'nan', the
command exits 1, and such a result is never written as run folders.
See :mod:`bench.app.scoring` and :mod:`bench.app.submission`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import UsageError
from .options import add_json_argument, add_runs_argument, print_json

NAME = "score"
HELP = "score an outside model's predictions CSV on a protocol's test images (submissions)"


def add_arguments(p) -> None:
    """Register the score options."""
    p.add_argument("predictions", metavar="PREDICTIONS.csv", nargs="?",
                   help="CSV with columns image, prediction (optional: fold, target)")
    p.add_argument("--protocol", default="lodo", help="evaluation protocol (default lodo)")
    p.add_argument("--dataset", help="lodo/fr-split/fr-fewlabel/fr-labelfree: the dataset; "
                                     "cross/finetune/fr-cross: the target(s), "
                                     "comma-separated (default: the protocol's)")
    p.add_argument("--train", help="cross/finetune/fr-cross: the training sets the model used, as "
                                   "recorded with --runs (default: the protocol's)")
    p.add_argument("--seed", type=int, default=0, help="protocol seed (fine-tune splits; default 0)")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config value, e.g. --set data.kadid10k=/d/kadid10k or "
                        "--set protocol.splits=3")
    p.add_argument("--template", metavar="FILE",
                   help="write the CSV to fill in (one row per test image) instead of scoring")
    add_json_argument(p, "the metrics")
    add_runs_argument(p, default=None, help="also write the result as run folders under DIR")
    p.add_argument("--name", help="submission name for --runs (default: the CSV's file stem)")


def main(args) -> int:
    """Score (or write the template); print the table or JSON; 0, or 1 when a metric is
    undefined."""
    from ..core.errors import BenchError
    from ..app.environment import writable_dir, writable_file
    from ..app.scoring import match_predictions, score_config, test_sets, write_template
    from ..app.submission import format_scores, result_json, undefined, write_runs

    if bool(args.template) == bool(args.predictions):
        raise UsageError("give a predictions CSV to score, or --template FILE to write one to "
                         "fill in (not both)")
    if args.template:
        writable_file(args.template, "--template")
    if args.runs:
        writable_dir(args.runs, "--runs")
    name = args.name or (Path(args.predictions).stem if args.predictions else "submission")
    cfg = score_config(args.protocol, args.dataset, args.data_root, tuple(args.set), args.seed,
                       args.train, name)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    tests = test_sets(cfg, log)
    if args.template:
        n = write_template(args.template, tests)
        print(f"wrote {args.template}: {n} row(s) to fill in ({len({t.fold for t in tests})} "
              f"fold(s) of {args.protocol})")
        return 0
    scores = match_predictions(tests, args.predictions, log)
    result = result_json(cfg, scores, args.predictions)
    bad = undefined(scores)
    folders = write_runs(cfg, scores, args.predictions, args.runs, log) if args.runs and not bad else []
    if folders:
        result["run_dirs"] = [str(f) for f in folders]
    if args.json:
        print_json(result)
    else:
        p = cfg["protocol"]
        print(f"{p['name']} / {cfg['method']} / {len(scores)} test set(s)")
        print(format_scores(cfg, scores))
        if folders:
            print(f"\nwrote {len(folders)} run folder(s) under {args.runs}/ "
                  f"(see `python -m bench leaderboard --runs {args.runs}`)")
    if bad:
        where = ", ".join(bad[:5]) + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
        raise BenchError(f"SROCC/PLCC are undefined (NaN) on {where}: the predictions (or the "
                         "MOS) are constant there" + ("; nothing was written under "
                                                     f"{args.runs}" if args.runs else ""))
    return 0
