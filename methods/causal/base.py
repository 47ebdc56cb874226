"""The shared base of the causal paradigms: their settings (the counterfactual division of
paper Stage 1, the meta step's readings, BatchNorm statistics and the sampling rule), the
subsets, the inner Adam and the meta step; and the helper that registers a paradigm with
the paper's three ablations.

Budget: an epoch is the training-set size in images (``epoch_unit = 'images'``), the same
for ERM, MetaIQA, CIS and CIP; a CIS/CIP meta-iteration sees one batch of every subset."""
from __future__ import annotations

import contextlib

from bench.core.errors import UsageError
from bench.core.registry import METHODS
from bench.core.settings import Setting
from bench.engine.method import FitContext, Method
from bench.methods.shared.batchnorm import (bn_buffers, bn_normalise_with_running,
                                            recompute_bn_stats, refresh_bn_stats)
from bench.methods.shared.division import divide
from bench.methods.shared.reptile import ReptileMeta, inner_adam
from bench.methods.shared.subsets import SUBSET_BATCH, SubsetBatches, subset_batch

# The division settings (bench/methods/shared/division.py computes it), with the paper's
# values; every profile uses these.
DIVISION_SETTINGS = {
    "clusters": Setting(2, "int", "number c of content clusters (q in the paper)", low=1,
                        high=1000, flag="clusters", column="content clusters"),
    "feature": Setting("auto", "str", "content feature: auto = imagenet-resnet18 when its "
                       "weights are in the torch cache, else pixelstats",
                       choices=("auto", "imagenet-resnet18", "pixelstats")),
    "tsne_dims": Setting(10, "int", "t-SNE output dimensions", low=1, high=100),
    "perplexity": Setting(30.0, "float", "t-SNE perplexity", low=1.0, high=1000.0),
    "covariance": Setting("diag", "str", "covariance type of the Gaussian mixture",
                          choices=("full", "tied", "diag", "spherical")),
}
DIVISION_KEYS = ("feature", "tsne_dims", "perplexity", "covariance")

# The meta step's readings (docs/readings.md items 9, 10) and the sampling rule (item 7).
META_SETTINGS = {
    "meta_step": Setting("interp", "str", "meta step reading: interp = Reptile, theta + beta "
                         "(phi - theta); metaiqa-code = interp with MetaIQA's inner Adam (head "
                         "at method.head_lr); adam = the earlier reading, Adam fed theta - phi "
                         "(kept for comparison only)", choices=("interp", "metaiqa-code", "adam")),
    "beta": Setting(1.0, "float", "Reptile step size beta of interp / metaiqa-code, in (0, 1]",
                    low=1e-6, high=1.0, search=("uniform", 0.1, 1.0)),
    "head_lr": Setting(1e-2, "float", "inner Adam lr of the regression head under "
                       "meta_step=metaiqa-code (the backbone keeps train.lr)", low=0),
    "meta_lr": Setting(1e-2, "float", "lr of the Adam meta optimizer (meta_step=adam only)", low=0,
                       search=("log-uniform", 1e-4, 1e-2)),
    "meta_betas": Setting([0.9, 0.9999], "list", "betas of the Adam meta optimizer "
                          "(meta_step=adam only)", item="float", low=0, high=0.999999, length=2),
    "bn_stats": Setting("interp", "str", "BatchNorm running statistics: interp = moved by the "
                        "meta step like the parameters; recompute = recomputed at the final "
                        "theta before testing", choices=("interp", "recompute")),
    "bn_batch": Setting("subset", "str", "what BatchNorm normalises an inner step with: "
                        "subset = the statistics of that step's own batch (one subset: one "
                        "distortion type and content cluster), as in training mode; global = "
                        "running statistics taken from a uniform batch of the whole training set "
                        "(method.bn_refresh images) at the start of every meta-iteration, and "
                        "recomputed over the training set after the last one",
                        choices=("subset", "global"), search=("choice", ("subset", "global"))),
    "bn_refresh": Setting(64, "int", "images of the mixed batch that sets the BatchNorm "
                          "statistics under bn_batch=global", low=2, high=100000),
    "sampling": Setting("uniform", "str", "subset minibatches: uniform draws with the Eq. 6 "
                        "weights renormalised, or weighted = drawn with probability equal to "
                        "the Eq. 6 weights", choices=("uniform", "weighted")),
    "inner_steps": Setting(1, "int", "inner optimizer steps per subset (CIS) or per "
                           "meta-iteration (CIP), each on a fresh minibatch, before the meta step",
                           low=1, high=1000, search=("choice", (1, 2, 4, 8))),
    "inner_beta1": Setting(None, "float", "beta1 of the inner Adam (null: train.betas' first; "
                           "0: no momentum carried across subsets, as Reptile's code)",
                           low=0.0, high=0.999999, nullable=True, search=("choice", (None, 0.0))),
    "assignment": Setting("soft", "str", "content clusters: soft = every image in every cluster's "
                       "subset with its probability (Eq. 6); hard = each reference in its most "
                       "probable cluster only (argmax)", choices=("soft", "hard"),
                       search=("choice", ("soft", "hard"))),
}
CAUSAL_SETTINGS = {**DIVISION_SETTINGS, **META_SETTINGS, "subset_batch": SUBSET_BATCH}


def inner_optimizer(engine, hp: dict, lr: float):
    """The inner Adam at ``lr`` (the head at ``head_lr`` under metaiqa-code), its beta1
    replaced by ``inner_beta1`` when that is set (0: no momentum carried across subsets)."""
    opt = inner_adam(engine, lr, hp["head_lr"] if hp["meta_step"] == "metaiqa-code" else None)
    if hp["inner_beta1"] is not None:
        for group in opt.param_groups:
            group["betas"] = (float(hp["inner_beta1"]), group["betas"][1])
    return opt


def meta_updater(engine, hp: dict) -> ReptileMeta:
    """The meta step of ``hp`` (meta_step, beta, meta_lr, meta_betas, bn_stats)."""
    step = "adam" if hp["meta_step"] == "adam" else "interp"
    buffers = bn_buffers(engine.model) if hp["bn_stats"] == "interp" else []
    return ReptileMeta(engine.model.parameters(), step, hp["beta"], hp["meta_lr"],
                       hp["meta_betas"], buffers)


IDENTITY_NOTE = ("interp with beta=1 and one inner step: the meta step is the identity "
                 "(plain Adam over one-subset batches)")


def meta_is_identity(hp: dict) -> bool:
    """True when the meta step changes nothing: theta + 1 (phi - theta) = phi after one inner
    step (interp or metaiqa-code with beta = 1 and inner_steps = 1)."""
    return hp["meta_step"] != "adam" and hp["beta"] == 1.0 and hp["inner_steps"] == 1


def meta_facts(hp: dict, meta: ReptileMeta | None) -> dict:
    """What a run record says about the meta step reading (with ``meta_identity`` and a
    note when the meta step is the identity)."""
    step = hp["meta_step"]
    out = {"meta_step": step, "bn_stats": hp["bn_stats"], "inner_steps": hp["inner_steps"],
           "inner_beta1": hp["inner_beta1"], "assignment": hp["assignment"],
           "meta_identity": meta_is_identity(hp)}
    if out["meta_identity"]:
        out["meta_note"] = IDENTITY_NOTE
    if step == "adam":
        out.update(meta_lr=hp["meta_lr"], note="earlier reading: Adam fed theta - phi, "
                   "scale-free, kept for comparison")
    else:
        out["beta"] = hp["beta"]
    if step == "metaiqa-code":
        out["head_lr"] = hp["head_lr"]
    if meta is not None:
        out["meta_steps"] = meta.steps
    return out


class CausalMethod(Method):
    """Shared set-up of the causal paradigms: subsets, inner Adam, meta step.

    levels: distortion level as an extra confounder (+L); the \\C ablations pin
    ``clusters`` at 1 through ``fixed`` (so their records say so).
    """

    settings = CAUSAL_SETTINGS
    levels: bool = False
    stateful = ("optimizer", "meta", "batches")
    epoch_unit = "images"
    meta = None

    content_feature = None

    @classmethod
    def check_training(cls, cfg: dict, fold: str, records: list) -> None:
        """UsageError when the fold has fewer training references than content clusters."""
        q = cls.effective_settings(cfg)["clusters"]
        refs = {(name, r.ref or r.image) for name, r in records}
        if q > 1 and q > len(refs):
            raise UsageError(f"method.clusters={q} is more than the {len(refs)} training "
                             f"references of fold {fold}; use at most {len(refs)}")

    def setup(self, ctx: FitContext) -> None:
        e, hp = ctx.engine, self.hp
        self.subsets, self.content_feature = self.divide(ctx)
        self.batches = SubsetBatches(self.subsets, ctx.train, lambda d: subset_batch(hp, d),
                                     e.rng, hp["sampling"])
        self.optimizer = inner_optimizer(e, hp, self.cfg["train"]["lr"])
        self.meta = meta_updater(e, hp)
        if meta_is_identity(hp):
            ctx.log(f"{self.display}: {IDENTITY_NOTE}")

    def divide(self, ctx: FitContext) -> tuple:
        """(subsets, content feature used): the counterfactual division of the training set
        with this method's clusters, levels and division settings."""
        from bench.engine.models import imagenet_weights

        return divide(ctx.train, self.hp["clusters"], int(self.cfg["seed"]), self.levels,
                      log=ctx.log, checkpoint=imagenet_weights("resnet18", self.cfg["model"]),
                      hard=self.hp["assignment"] == "hard",
                      **{k: self.hp[k] for k in DIVISION_KEYS})

    @classmethod
    def weights_files(cls, cfg: dict) -> dict:
        """{'division features': the ResNet-18 file} when the division computes ImageNet
        features (c > 1 and method.feature is not pixelstats; None when auto finds none and
        falls back to pixel statistics); UsageError naming the file when it is missing and
        needed (feature=imagenet-resnet18, or model.pretrained=true as on the paper
        profile: a paper run never quietly clusters pixel statistics)."""
        from bench.engine.models import imagenet_weights, missing_weights

        hp = cls.effective_settings(cfg)
        if hp["clusters"] <= 1 or hp["feature"] == "pixelstats":
            return {}
        path = imagenet_weights("resnet18", cfg["model"])
        if path is None and (hp["feature"] == "imagenet-resnet18"
                             or cfg["model"].get("pretrained") is True):
            raise missing_weights("resnet18", "the content features of method.feature="
                                  + hp["feature"])
        return {"division features": path}

    def iterations_per_epoch(self) -> int:
        return self.batches.iterations_per_epoch

    def inner_scope(self, ctx: FitContext):
        """The context one meta-iteration's inner steps run in: under bn_batch=global the
        BatchNorm statistics are first set from a mixed batch and then held (see
        reptile.refresh_bn_stats); otherwise nothing changes."""
        if self.hp["bn_batch"] != "global":
            return contextlib.nullcontext()
        self.bn_refresh_images = getattr(self, "bn_refresh_images", 0) + refresh_bn_stats(
            ctx.engine, ctx.train, self.hp["bn_refresh"])
        return bn_normalise_with_running(ctx.engine.model)

    def end_training(self, ctx: FitContext) -> None:
        if self.hp["bn_stats"] == "recompute" or self.hp["bn_batch"] == "global":
            recompute_bn_stats(ctx.engine, ctx.train, self.cfg["train"]["batch_size"])

    def describe(self) -> dict:
        return {**super().describe(), **meta_facts(self.hp, self.meta),
                "sampling": self.hp["sampling"], "bn_batch": self.hp["bn_batch"],
                "subsets": len(getattr(self, "subsets", [])),
                "content_feature": self.content_feature}


MLIVE_EXTRA = {"real": ["mlive"], "synthetic": ["syn-mlive"]}

# The paper's ablations of a causal paradigm:
# (registry suffix, display suffix, class-name suffix, attributes, doc).
ABLATIONS = [
    ("-c", "\\C", "NoContent", {"fixed": {"clusters": 1}}, "without the content confounder (q = 1)"),
    ("+l", "+L", "Levels", {"levels": True}, "with distortion level as a confounder"),
    ("+m", "+M", "Multi", {"extra_train": MLIVE_EXTRA}, "with multiply-distorted training data"),
]


def register_with_ablations(name: str, cls: type) -> None:
    """Register ``cls`` as ``name`` and its ablations as ``name-c``, ``name+l``, ``name+m``
    (displayed e.g. CIS\\C, CIS+L, CIS+M)."""
    METHODS.add(name, cls)
    for suffix, shown, cls_suffix, attrs, doc in ABLATIONS:
        variant = type(f"{cls.__name__}{cls_suffix}", (cls,),
                       {"display": cls.display + shown, **attrs, "__doc__": f"{cls.display} {doc}.",
                        "__module__": cls.__module__})
        METHODS.add(name + suffix, variant)
