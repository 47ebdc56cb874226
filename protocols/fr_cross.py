"""Full-reference cross-dataset (issue 13): train on the pairs of --train (with their MOS,
or with ``--train-labels false`` without any), test on every pair of each of --targets
(e.g. syn-kadid -> the cross-domain sets syn-medical, syn-xray, syn-astro, syn-screen).

``--adapt true`` is annotation-free adaptation to the target (the FR paper's label-free,
scenario-specific training): one fold per target whose training adds that target's pairs
WITHOUT their MOS (unlabelled, the FR contract in bench/engine/method.py), scored on the same
target pairs (transductive, as unsupervised domain adaptation is: the images are seen, no
label of them is). Nothing is pretrained: each fold trains its own model.
"""
from __future__ import annotations

from bench.core.errors import UsageError
from bench.core.settings import Setting
from bench.engine.protocol import Fold, Protocol
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS


REAL_TRAIN, REAL_TARGETS = ["kadid10k"], ["tid2013"]
SYN_TRAIN = ["syn-kadid"]
SYN_TARGETS = ["syn-medical", "syn-xray", "syn-astro", "syn-screen"]




@PROTOCOLS.register("fr-cross")
class FRCross(Protocol):
    """Full-reference cross-dataset: train on --train's pairs, test on each of --targets."""

    version = 1
    inputs = "pairs"
    layout = "targets"
    key_columns = ()          # a unit is a seed's run (one fold, or one per target)
    unit = "seed"
    statistic = "mean"
    order = 13
    disjoint = (("train", "targets"),)   # a target that trained is no cross-dataset result
    settings = {
        "train": Setting(SYN_TRAIN, "list", "cross/finetune/fr-cross: comma-separated training "
                         "sets", item="str", flag="train", real=REAL_TRAIN, names="dataset"),
        "targets": Setting(SYN_TARGETS, "list", "cross/finetune/fr-cross: comma-separated test "
                           "sets", item="str", flag="targets", real=REAL_TARGETS, names="dataset"),
        "train_labels": Setting(True, "bool", "fr-cross: false trains on the training sets' pairs "
                                "without their MOS (default true)", flag="train-labels"),
        "adapt": Setting(False, "bool", "fr-cross: true adds each target's pairs, unlabelled, to "
                         "training (one fold per target; default false)", flag="adapt")}

    def datasets(self, opts: dict) -> list[str]:
        return list(dict.fromkeys(opts["train"] + opts["targets"]))

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        labels = bool(opts.get("train_labels", True))
        adapt = bool(opts.get("adapt", False))
        if not opts["train"] or not opts["targets"]:
            raise UsageError("--protocol fr-cross needs --train and --targets (comma-separated sets)")
        source = [(n, list(range(len(datasets[n])))) for n in opts["train"]]
        n_source = sum(len(i) for _, i in source)
        labelled, unlabelled = (source, []) if labels else ([], source)
        info = {"train_labels": labels, "adapt": adapt,
                "label_fraction": 1.0 if labels else 0.0, "n_labelled": n_source if labels else 0}
        tests = {t: (t, list(range(len(datasets[t])))) for t in opts["targets"]}
        if not adapt:
            return [Fold("all", [Fit(labelled, list(unlabelled))], tests, info=info)]
        return [Fold(f"adapt-{t}", [Fit(labelled, unlabelled + [test])], {t: test},
                         info={**info, "adapted_to": t})
                for t, test in tests.items()]
