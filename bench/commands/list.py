"""`python -m bench list`: the registered methods, protocols (with their options and how
their results are summarised) and datasets; ``--folds DATASET`` adds the fold names each
protocol makes of that dataset (the names ``run --folds`` takes)."""
from __future__ import annotations

import sys

NAME = "list"
HELP = "list the methods, protocols and datasets (and, with --folds DATASET, the fold names)"


def add_arguments(p) -> None:
    """Register the list options."""
    p.add_argument("--folds", metavar="DATASET",
                   help="also list every protocol's folds on this dataset (opens it)")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")


def main(args) -> int:
    """Print the listing; return 0."""
    from ..app.listing import datasets_lines, fold_lines, methods_lines, protocols_lines

    print("methods (--method):")
    print("\n".join(methods_lines()))
    print("\nprotocols (--protocol):")
    print("\n".join(protocols_lines()))
    print("\ndatasets (--dataset, --train, --targets):")
    print("\n".join(datasets_lines()))
    if args.folds:
        log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        print(f"\nfolds on {args.folds} (--folds):")
        print("\n".join(fold_lines(args.folds, args.data_root, log)))
    else:
        print("\nfold names: python -m bench list --folds DATASET")
    return 0
