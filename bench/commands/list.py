"""`python -m bench list`: the registered methods, protocols (with their options and how
their results are summarised) and datasets; ``--folds DATASET`` adds the fold names each
protocol makes of that dataset (the names ``run --folds`` takes); ``--json`` prints it all
as one JSON object."""
from __future__ import annotations

import sys

from .options import add_json_argument, print_json

NAME = "list"
HELP = "list the methods, protocols and datasets (and, with --folds DATASET, the fold names)"


def add_arguments(p) -> None:
    """Register the list options."""
    p.add_argument("--folds", metavar="DATASET",
                   help="also list every protocol's folds on this dataset (opens it)")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")
    add_json_argument(p, "the listing")


def main(args) -> int:
    """Print the listing; return 0."""
    from ..app import listing

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.json:
        out = {"methods": listing.method_rows(), "protocols": listing.protocol_rows(),
               "datasets": listing.dataset_rows()}
        if args.folds:
            out["folds"] = {"dataset": args.folds,
                            "protocols": listing.fold_rows(args.folds, args.data_root, log)}
        print_json(out)
        return 0
    print("methods (--method):")
    print("\n".join(listing.methods_lines()))
    print("\nprotocols (--protocol):")
    print("\n".join(listing.protocols_lines()))
    print("\ndatasets (--dataset, --train, --targets):")
    print("\n".join(listing.datasets_lines()))
    if args.folds:
        print(f"\nfolds on {args.folds} (--folds):")
        print("\n".join(listing.fold_lines(args.folds, args.data_root, log)))
    else:
        print("\nfold names: python -m bench list --folds DATASET")
    return 0
