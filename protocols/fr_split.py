"""Full-reference split (issue 13): train:test by reference (default 8:2) over n seeded
splits; a reference and all its distorted images are on one side only. The FR methods get
the training pairs with their MOS and are scored on the test pairs.

Also the pieces the other FR protocols share: the seeded splits (a fold passes the
training pairs it gives without MOS as ``Fold.unlabelled``; the FR contract,
bench/engine/pair_method.py). Splits are :func:`protocols.finetune.split_indices`' (they depend
only on seed, split and dataset, so every method, and every FR protocol, sees the same).
"""
from __future__ import annotations

from bench.core.errors import UsageError
from bench.core.settings import Setting
from bench.engine.protocol import Fold, Protocol
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS

from .finetune import split_indices

REAL_DATASET = "kadid10k"
SYN_DATASET = "syn-kadid"
DEFAULT_SPLITS = 3


def check_split_options(opts: dict) -> tuple[float, int]:
    """(train_ratio, splits) of ``opts`` (checked by the protocol's settings)."""
    return float(opts["train_ratio"]), int(opts["splits"])


def reference_splits(opts: dict, datasets: dict, seed: int):
    """Yield (split k, train indices, test indices) of the dataset ``opts['dataset']``:
    ``opts['splits']`` seeded splits by reference at ``opts['train_ratio']``. UsageError
    when the dataset has no references to split by."""
    t, n = check_split_options(opts)
    name = opts["dataset"]
    ds = datasets[name]
    if not ds.has_refs:
        raise UsageError(f"--protocol {opts.get('name', 'fr-split')} splits by reference, but "
                         f"dataset '{name}' has none; use a dataset with references")
    for k in range(n):
        train, test = split_indices(ds.records, t, seed, k, name)
        yield k, train, test


class SplitProtocol(Protocol):
    """Shared by fr-split, fr-fewlabel and fr-labelfree: one dataset, n splits by
    reference, a unit is a split (mean over splits), targets shown as column groups."""

    inputs = "pairs"
    layout = "targets"
    key_columns = ("fold",)
    unit = "split"
    statistic = "mean"
    settings = {
        "dataset": Setting(SYN_DATASET, "str", "lodo/fr-*: the dataset (default syn-kadid)",
                           flag="dataset", real=REAL_DATASET, names="dataset"),
        "train_ratio": Setting(0.8, "float", "finetune/fr-*: share of references (fr-*) that "
                               "trains", low=0, high=1, exclusive="both", flag="train-ratio"),
        "splits": Setting(DEFAULT_SPLITS, "int", "finetune/fr-*: number of seeded splits",
                          low=1, flag="splits")}

    def datasets(self, opts: dict) -> list[str]:
        return [opts["dataset"]]


@PROTOCOLS.register("fr-split")
class FRSplit(SplitProtocol):
    """Full-reference, supervised: n seeded train:test splits by reference, all MOS."""

    version = 1
    order = 10

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        name = opts["dataset"]
        t, n = check_split_options(opts)
        return [Fold(f"s{k}", [Fit([(name, train)])], {name: (name, test)},
                         info={"split": k, "train_ratio": t, "fold_count": n,
                               "label_fraction": 1.0, "n_labelled": len(train)})
                for k, train, test in reference_splits(opts, datasets, seed)]
