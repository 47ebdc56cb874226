"""The core settings of a run, declared once as :class:`~bench.core.settings.Setting` objects
with a default per profile (docs/design.md): ``smoke`` for tests (seconds), ``quick`` for
the README's main command (25 LODO folds on the synthetic suite in minutes on 2 CPU
cores), ``paper`` exactly the paper's settings (docs/readings.md). A profile's config tree
is built from these defaults (:func:`profile_config`); every leaf can be overridden with
``--set key=value`` and is checked against its Setting. A method's own settings are
declared on its class and live under ``method_settings`` (bench/engine/method.py); a
protocol's on its class, under ``protocol`` (bench/engine/protocol.py).

Search spaces (issue 23) live beside the settings they draw (``search=``): the core
training values a search may tune (lr, batch size, epochs, weight decay) relative to each
profile's default, so draw 0 (the defaults) lies inside every profile's space.

Why quick is what it is (issue 10): one CPU thread (the small CNN's ops are too small to
gain from a second one, and a second intra-op thread collapses when other processes share
the cores); sized by ERM's fit on LODO *validation* folds (--validation true; never a
held-out type): the 72 px cache of the 192 px suite blurred away much of the pixel-level
distortions, dropout 0.5 in a 128-64 head and 6 epochs left ERM's training-set SROCC at
0.49-0.57; a 96 px cache (same 64 px crops, so the same cost per image), no dropout, twice
the epochs with a stepped lr gave 0.58-0.63 on the training set and validation SROCC
0.14 -> 0.46 and 0.59 -> 0.66 (README, readings of the paper). Suite v2 (issue 21) has
2.7x the training images per fold (3,680 on a validation fold): 3 epochs, the lr halved
after each, keep the images per fold near the old budget (11,040 against 17,280). ERM /
CIS validation SROCC over ten validation folds (GB, JPEG, WN, CQ, PIXELATE, LB, CD, MN,
BRIGHTEN, CC; seed 0): 3 epochs 0.26 / 0.03; on the first five, 3, 4 and 5 epochs 0.18,
0.16, 0.14 (ERM) and 0.01, -0.07, -0.04 (CIS), 12 epochs 0.19 (ERM): more epochs did not
help. A 128 px cache gave 0.24 / 0.10. The test view stays
'center' on quick and smoke: on LODO validation folds it scored higher for 13 of 18
trained ERM models, +0.04 SROCC on average (resizing shrinks the pixel-level distortions
the model learned at training scale).
"""
from __future__ import annotations

from .settings import Setting as S

PROFILES = ("smoke", "quick", "paper")

CORE_SETTINGS: dict[str, S] = {
    "profile": S("quick", "str", "the profile the defaults came from",
                 per_profile={"smoke": "smoke", "paper": "paper"}),
    "seed": S(0, "int", "the run's seed", low=0, high=2**32 - 1),
    "device": S("auto", "str", "cpu, cuda[:K] or auto (cuda when present)"),
    "deterministic": S(True, "bool", "torch's deterministic algorithms where they are cheap"),
    "save_model": S(True, "bool", "write model.pt into each run folder (explain, reuse)"),
    "data.root": S(None, "str", "--data-root; null: the embedded synthetic suite", nullable=True),
    "data.paths": S({}, "map", "a folder per dataset: --set data.livec=PATH", item="str"),
    "data.size": S(72, "int", "side of the square the cache stores, px", low=1, high=4096,
                   per_profile={"smoke": 40, "quick": 96, "paper": 256}),
    "data.crop": S(64, "int", "random training crop, px (and the test view's side)",
                   low=1, high=4096, per_profile={"smoke": 32, "paper": 224}),
    "data.flip": S(True, "bool", "random horizontal flip in training"),
    # it names a folder of the cache: a plain non-negative integer, nothing else
    "data.synthetic_seed": S(0, "int", "seed of the generated suite", low=0, high=2**32 - 1),
    "data.placement": S("auto", "str", "where crops are cut: auto, device (arrays on the "
                        "GPU) or host", choices=("auto", "device", "host")),
    "engine.amp": S("auto", "str", "auto: bf16 autocast on GPUs with bf16, fp32 elsewhere",
                    choices=("auto", "bf16", "off")),
    "engine.compile": S(False, "str", "torch.compile the model (true or a backend name)",
                        choices=(True, False)),
    "engine.channels_last": S("auto", "bool", "channels-last memory format (auto: on CUDA)",
                              choices=("auto",)),
    "engine.fused": S("auto", "bool", "fused Adam (auto: on CUDA); foreach otherwise",
                      choices=("auto",)),
    "engine.threads": S(0, "int", "torch CPU threads per process (0: torch's default)",
                        low=0, high=1024, per_profile={"smoke": 1, "quick": 1}),
    "model.backbone": S("smallcnn", "str", "smallcnn, resnet18, resnet34 or resnet50",
                        per_profile={"paper": "resnet18"}),
    "model.width": S(16, "int", "smallcnn only: channels of its first stage (x2 per stage)",
                     low=1, high=1024),
    "model.weights": S(None, "str", "a torchvision state-dict file for the backbone (and a "
                       "method's feature extractor of the same network)", nullable=True),
    "model.pretrained": S("auto", "bool", "auto: ImageNet weights when in the torch cache; "
                          "true: a missing checkpoint is an error (the paper profile); false: "
                          "random init (labelled in every table on the paper profile)",
                          choices=("auto",), per_profile={"paper": True}),
    "model.head_dims": S([128, 64], "list", "widths of the regression head's hidden layers",
                         item="int", low=1, per_profile={"smoke": [32, 16], "paper": [1024, 512]}),
    "model.dropout": S(0.5, "float", "dropout of the head", low=0, high=0.99,
                       per_profile={"smoke": 0.0, "quick": 0.0}),
    "train.epochs": S(6, "int", "epochs of a fit", low=1,
                      per_profile={"smoke": 2, "quick": 3, "paper": 100},
                      search=("scale", (0.67, 1.0, 1.34))),
    "train.iterations_per_epoch": S(None, "int", "cap of an epoch's iterations (null: every "
                                    "image once)", low=1, nullable=True, per_profile={"smoke": 2}),
    "train.batch_size": S(32, "int", "ERM batch, images", low=1,
                          per_profile={"smoke": 16, "paper": 64}, search=("scale", (0.5, 1.0, 2.0))),
    "train.lr": S(1e-3, "float", "lr of the inner (task) optimizer", low=0,
                  per_profile={"quick": 2e-3, "paper": 1e-4}, search=("log-scale", 0.2, 5.0)),
    "train.betas": S([0.9, 0.9999], "list", "Adam's betas", item="float", low=0,
                     high=0.999999, length=2),
    "train.lr_decay": S(0.8, "float", "the inner lr is multiplied by this ...", low=0,
                        per_profile={"quick": 0.5}),
    "train.lr_step_epochs": S(10, "int", "... every this many epochs", low=1,
                              per_profile={"quick": 1}),
    "train.budget": S("images", "str", "what an epoch counts for the methods budgeted alike "
                      "(ERM, MetaIQA, CIS, CIP): images = the training set's size in images "
                      "seen; steps = the optimizer steps ERM takes on them (training-set size "
                      "/ train.batch_size), equal progress whatever a method's batch",
                      choices=("images", "steps")),
    "train.loss": S("l1", "str", "the per-image loss", choices=("l1", "mse")),
    "train.weight_decay": S(0.0, "float", "Adam's weight decay", low=0,
                            search=("choice", (0.0, 1e-5, 1e-4, 1e-3))),
    "train.holdout": S(0.0, "float", "share of a fold's training references (images where "
                       "there are none) held out of training, seeded by the run's seed and fold; "
                       "the run records its metrics there (facts 'holdout'): the train-val "
                       "selection score (0: none)", low=0.0, high=0.9),
    "hparams.draw": S(None, "int", "the random-search draw (set by bench sweep --hparams, "
                      "which also sets the draw's values; set by hand it only labels the run) "
                      "whose values this run's searched settings hold; 0 = the defaults; "
                      "null: not part of a search", low=0, nullable=True),
    "train.read_losses_every": S(100, "int", "optimizer steps between host reads of the "
                                 "training loss for the NaN check (0: only at the end of an "
                                 "epoch, when the loop reads the epoch's losses at once)", low=0,
                                 high=10**9),
    "train.checkpoint": S(False, "bool", "checkpoint every epoch and resume from it",
                          per_profile={"paper": True}),
    "test.batch_size": S(64, "int", "images per prediction batch", low=1),
    "test.view": S("center", "str", "what a test image is: resize (the whole image resized to "
                   "data.crop) or center (a central crop of the cached image)",
                   choices=("resize", "center"), per_profile={"paper": "resize"}),
    "finetune.epochs": S(3, "int", "epochs of fine-tuning", low=1,
                         per_profile={"smoke": 1, "paper": 30}),
    "finetune.lr": S(1e-3, "float", "Adam lr of fine-tuning", low=0, per_profile={"paper": 1e-4}),
    "finetune.batch_size": S(32, "int", "fine-tuning batch, images", low=1,
                             per_profile={"paper": 64}),
}


def profile_config(name: str) -> dict:
    """The full config tree of profile ``name`` (its default of every core setting); a
    KeyError for an unknown profile."""
    if name not in PROFILES:
        raise KeyError(name)
    tree: dict = {}
    for dotted, setting in CORE_SETTINGS.items():
        *parents, last = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = setting.default_for(name)
    return tree
