"""Fine-tune (paper Tables 2, 5, 8, 11; Figure 3c/d): from the model trained on the
training sets (the same artifact as the zero-shot protocol), fine-tune on a share t of
each target and test on the rest, over n seeded splits. Splits are by reference where the
target has references, depend only on (seed, split, target) so every method sees the same
splits (paired comparisons), and nothing is selected on the test part."""
from __future__ import annotations

import zlib

import numpy as np

from bench.core.errors import UsageError
from bench.core.settings import Setting
from bench.engine.protocol import Fold
from bench.engine import stages
from bench.core.registry import PROTOCOLS

from .cross import CrossDataset


def split_indices(records, train_ratio: float, seed: int, split: int, target: str):
    """(train, test) record indices of one seeded split of a target: whole references go to
    one side when the records have references, single images otherwise. The share of
    references (or images) on the train side is round(t * count), at least 1 each side."""
    rng = np.random.default_rng([seed, split, zlib.crc32(target.encode())])
    groups = [r.ref if r.ref is not None else r.image for r in records]
    keys = sorted(set(groups))
    if len(keys) < 2:
        raise UsageError(f"cannot split '{target}': it has fewer than two references/images")
    perm = rng.permutation(len(keys))
    k = min(max(1, int(round(train_ratio * len(keys)))), len(keys) - 1)
    train_keys = {keys[i] for i in perm[:k]}
    train = [i for i, g in enumerate(groups) if g in train_keys]
    test = [i for i, g in enumerate(groups) if g not in train_keys]
    return train, test


@PROTOCOLS.register("finetune")
class FineTune(CrossDataset):
    """One fold per (target, split): pretrain with the method, fine-tune on t, test on 1-t.
    Training and target sets, and their defaults, are the zero-shot protocol's."""

    version = 1
    settings = {
        **CrossDataset.settings,
        "train_ratio": Setting(0.8, "float", "finetune: share t of the target that trains",
                               low=0, high=1, exclusive="both", flag="train-ratio"),
        "splits": Setting(10, "int", "finetune: number of seeded splits", low=1, flag="splits")}
    key_columns = ("fold",)   # one fold per (target, split): a unit is a split
    unit = "split"
    statistic = "median"      # the paper reports the median over splits
    order = 2

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        t = float(opts["train_ratio"])
        pretrain = [(n, list(range(len(datasets[n])))) for n in opts["train"]]
        folds = []
        for target in opts["targets"]:
            for k in range(int(opts["splits"])):
                train, test = split_indices(datasets[target].records, t, seed, k, target)
                steps = [stages.Pretrain(pretrain), stages.FineTune([(target, train)])]
                folds.append(Fold(f"{target}-s{k}", steps, {target: (target, test)},
                                  info={"split": k, "train_ratio": t, "fold_count": int(opts["splits"])}))
        return folds
