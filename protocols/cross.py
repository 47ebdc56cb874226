"""Cross-dataset zero-shot (paper Tables 4, 7, 10): train once on the training sets, test
the same model on every target without fine-tuning. The trained model is an artifact that
the fine-tune protocol (and other targets) reuse instead of training again."""
from __future__ import annotations

from bench.core.settings import Setting
from bench.engine.protocol import Fold, Protocol
from bench.engine.stages import Pretrain
from bench.core.registry import PROTOCOLS

REAL_TRAIN = ["tid2013", "kadid10k"]
REAL_TARGETS = ["cid2013", "livec", "koniq10k"]
SYN_TRAIN = ["syn-kadid"]
SYN_TARGETS = ["syn-wild"]


@PROTOCOLS.register("cross")
class CrossDataset(Protocol):
    """Zero-shot: one fold, training on --train, testing on each of --targets."""

    version = 1
    layout = "targets"
    settings = {
        "train": Setting(SYN_TRAIN, "list", "cross/finetune: comma-separated training sets",
                         item="str", flag="train", real=REAL_TRAIN, names="dataset"),
        "targets": Setting(SYN_TARGETS, "list", "cross/finetune: comma-separated test sets",
                           item="str", flag="targets", real=REAL_TARGETS, names="dataset")}
    key_columns = ()          # one fold: each seed's run is a unit
    unit = "seed"
    statistic = "mean"
    order = 1
    disjoint = (("train", "targets"),)   # a target that trained is no cross-dataset result

    def datasets(self, opts: dict) -> list[str]:
        return list(dict.fromkeys(opts["train"] + opts["targets"]))

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        train = [(n, list(range(len(datasets[n])))) for n in opts["train"]]
        tests = {t: (t, list(range(len(datasets[t])))) for t in opts["targets"]}
        return [Fold("all", [Pretrain(train)], tests)]
