"""The shared base of the causal paradigms: their settings (the counterfactual division of
paper Stage 1 and the Reptile meta step), the subsets, the inner Adam and the meta
optimizer; and the helper that registers a paradigm with the paper's three ablations."""
from __future__ import annotations

from bench.method import FitContext, Method
from bench.registry import METHODS
from bench.samplers import SubsetBatches
from bench.settings import Setting

from .reptile import ReptileMeta

# The division settings (bench/division.py computes it) and the meta step's, with the
# paper's values (DESIGN.md s.4); every profile uses these.
CAUSAL_SETTINGS = {
    "clusters": Setting(2, "int", "number c of content clusters (q in the paper)", low=1, high=1000),
    "feature": Setting("auto", "str", "content feature: auto = imagenet-resnet18 when its "
                       "weights are in the torch cache, else pixelstats",
                       choices=("auto", "imagenet-resnet18", "pixelstats")),
    "tsne_dims": Setting(10, "int", "t-SNE output dimensions", low=1, high=100),
    "perplexity": Setting(30.0, "float", "t-SNE perplexity", low=1.0, high=1000.0),
    "covariance": Setting("diag", "str", "covariance type of the Gaussian mixture",
                          choices=("full", "tied", "diag", "spherical")),
    "meta_optimizer": Setting("adam", "str", "meta optimizer, fed (theta - phi) as theta's "
                              "gradient", choices=("adam", "sgd")),
    "meta_lr": Setting(1e-2, "float", "meta learning rate beta", low=0),
    "meta_betas": Setting([0.9, 0.9999], "list", "Adam betas of the meta optimizer",
                          item="float", low=0, high=0.999999, length=2),
}
DIVISION_KEYS = ("feature", "tsne_dims", "perplexity", "covariance")


class CausalMethod(Method):
    """Shared set-up of the causal paradigms: subsets, inner Adam, meta optimizer.

    clusters: None to use the ``clusters`` setting, or a fixed count (1 for the \\C
    ablations); levels: distortion level as an extra confounder (+L).
    """

    settings = CAUSAL_SETTINGS
    clusters: int | None = None
    levels: bool = False
    stateful = ("optimizer", "meta_opt", "batches")

    def setup(self, ctx: FitContext) -> None:
        e, hp = ctx.engine, self.hp
        q = hp["clusters"] if self.clusters is None else self.clusters
        self.subsets = ctx.subsets(clusters=q, levels=self.levels,
                                   **{k: hp[k] for k in DIVISION_KEYS})
        self.batches = SubsetBatches(self.subsets, ctx.train, ctx.subset_batch, e.rng)
        self.optimizer = e.adam(e.model.parameters(), self.cfg["train"]["lr"])
        self.meta = ReptileMeta(e.model.parameters(), hp["meta_optimizer"], hp["meta_lr"],
                                hp["meta_betas"])
        self.meta_opt = self.meta.opt

    def iterations_per_epoch(self) -> int:
        return self.batches.iterations_per_epoch


MLIVE_EXTRA = {"real": ["mlive"], "synthetic": ["syn-mlive"]}

# The paper's ablations of a causal paradigm:
# (registry suffix, display suffix, class-name suffix, attributes, doc).
ABLATIONS = [
    ("-c", "\\C", "NoContent", {"clusters": 1}, "without the content confounder (q = 1)"),
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
