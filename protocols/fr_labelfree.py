"""Full-reference label-free (issue 13): fr-split's splits, and no MOS at all in training:
the method gets the training part's pairs only (every one unlabelled, the FR contract in
bench/engine/method.py) and is scored on the test pairs."""
from __future__ import annotations

from bench.engine.protocol import Fold
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS

from .fr_split import SplitProtocol, check_split_options, reference_splits


@PROTOCOLS.register("fr-labelfree")
class FRLabelFree(SplitProtocol):
    """Full-reference, label-free: fr-split's splits, training pairs without any MOS."""

    version = 1
    order = 12

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        name = opts["dataset"]
        t, n = check_split_options(opts)
        return [Fold(f"s{k}", [Fit([], [(name, train)])], {name: (name, test)},
                         info={"split": k, "train_ratio": t, "fold_count": n,
                               "label_fraction": 0.0, "n_labelled": 0})
                for k, train, test in reference_splits(opts, datasets, seed)]
