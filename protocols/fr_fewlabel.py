"""Full-reference few-label (issue 13): fr-split's splits, but only a share f of each
split's training pairs keep their MOS; the rest reach the method without it (NaN, the FR
contract in bench/engine/method.py). Which pairs keep labels is seeded by (seed, split, dataset)
alone and nested across fractions: the labelled pairs at f = 0.01 are among those at 0.05.

Several fractions run in one go (``--label-fraction 0.01,0.05,0.1`` or ``--set
protocol.label_fraction=[0.01,0.05,0.1]``): one fold per (fraction, split), each scored
under the target ``<dataset>@<fraction>``, so summaries never mix fractions.
"""
from __future__ import annotations

import zlib

import numpy as np

from bench.core.settings import Setting
from bench.engine.protocol import Fold
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS

from .fr_split import SplitProtocol, check_split_options, reference_splits

DEFAULT_FRACTIONS = [0.01, 0.05, 0.1]


def label_fractions(value) -> list[float]:
    """protocol.label_fraction as the list of fractions to run, each once, in order."""
    return list(dict.fromkeys(float(f) for f in value))


def labelled_subset(train: list, fraction: float, seed: int, split: int, dataset: str) -> list:
    """The training indices (sorted) that keep their MOS: the first max(1, round(f x n))
    of one seeded permutation of ``train`` per (seed, split, dataset), so smaller fractions
    are subsets of larger ones."""
    rng = np.random.default_rng([seed, split, zlib.crc32(dataset.encode()), 0x1AB])
    order = np.asarray(train, dtype=np.int64)[rng.permutation(len(train))]
    k = min(len(train), max(1, round(fraction * len(train))))
    return sorted(int(i) for i in order[:k])


def target_name(dataset: str, fraction: float) -> str:
    """The test target of one fraction: '<dataset>@<fraction>' ('syn-kadid@0.05')."""
    return f"{dataset}@{fraction:g}"


@PROTOCOLS.register("fr-fewlabel")
class FRFewLabel(SplitProtocol):
    """Full-reference, few labels: fr-split's splits, a share of training MOS kept."""

    version = 1
    order = 11
    settings = {
        **SplitProtocol.settings,
        "label_fraction": Setting(DEFAULT_FRACTIONS, "list", "fr-fewlabel: share(s) of training "
                                  "pairs that keep their MOS, in (0, 1], comma-separated "
                                  "(default 0.01,0.05,0.1)", item="float", low=0, high=1,
                                  exclusive="low", flag="label-fraction")}

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        name = opts["dataset"]
        fractions = label_fractions(opts["label_fraction"])
        t, n = check_split_options(opts)
        folds = []
        for k, train, test in reference_splits(opts, datasets, seed):
            for f in fractions:
                keep = labelled_subset(train, f, seed, k, name)
                kept = set(keep)
                rest = [i for i in train if i not in kept]
                folds.append(Fold(
                    f"f{f:g}-s{k}", [Fit([(name, keep)], [(name, rest)] if rest else [])],
                    {target_name(name, f): (name, test)},
                    info={"split": k, "train_ratio": t, "fold_count": n, "label_fraction": f,
                          "n_labelled": len(keep)}))
        return folds
