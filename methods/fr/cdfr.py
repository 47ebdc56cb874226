"""``cdfr``: causal-disentanglement full-reference IQA (Zhang et al., 2026; the abstract is
all that is public, so this is a reading and every gap filled is a setting below).

What trains (per update, one batch of B pairs, one trunk pass over their references,
distorted images and interpolations):

* every pair, labelled or not, gets the self-supervised objective
  (methods/fr/cdfr_losses.py): content invariance between reference and distorted image,
  independence of the content code from the degradation features, a swapped latent
  reconstruction, the intervention on the latent (content codes swapped across pairs, the
  re-encoded degradation code must stay), and the order of a pair's own interpolation;
* labelled pairs also get the supervised loss (train.loss) of the regression head on the
  masked degradation features. Unlabelled pairs' MOS never reaches the method (the FR
  contract makes them NaN); only the labelled mask chooses what is drawn.

What predicts (``head``): the regression head when the fold has labelled pairs, else
(fr-labelfree, or any fold passed without MOS) the label-free head: the first principal
direction of the training pairs' masked degradation features, oriented by the pairs'
own structure (methods/fr/cdfr_labelfree.py), fitted after the last epoch. Annotation-free
adaptation to a target domain is the same path on the target's unlabelled pairs (e.g.
``fr-cross --adapt true``): the self-supervised losses run on them and the head is
refitted on them (``label_free_fit``).

Budget: an epoch is the training set's size in pairs (``epoch_unit = 'images'``), the same
rule as every other method; a pair counts once whatever images its update passes.
"""
from __future__ import annotations

import numpy as np
import torch

from bench.core.errors import UsageError
from bench.engine.method import FitContext
from bench.engine.pair_method import PairMethod
from bench.core.registry import METHODS
from bench.engine.samplers import BatchSampler
from bench.core.settings import Setting

from .cdfr_labelfree import ORIENTS, LabelFreeHead
from .cdfr_losses import INVARIANCES, Weights, draws, self_supervised, supervised_loss
from .cdfr_model import MASKING_CONTENTS, MASKINGS, POOLINGS, CDFRNet, PairOutput

HEADS = ("auto", "regression", "label-free")

SETTINGS = {
    "content_dim": Setting(32, "int", "channels kc of the content code", low=1, high=4096,
                           per_profile={"smoke": 8, "paper": 128}),
    "degradation_dim": Setting(32, "int", "channels ks of the degradation code (the features "
                               "both heads read)", low=2, high=4096,
                               per_profile={"smoke": 8, "paper": 128}),
    "hidden": Setting(64, "int", "hidden width of the latent decoder and the regression head",
                      low=1, high=8192, per_profile={"smoke": 16, "paper": 512}),
    "encoders": Setting("shared", "str", "content and degradation encoders: shared = one trunk "
                        "(model.backbone), two heads; separate = a trunk each (twice the trunk "
                        "cost)", choices=("shared", "separate")),
    "masking": Setting("divisive", "str", "visual masking: divisive = degradation map / (1 + "
                       "content activity); none = the ablation", choices=MASKINGS),
    "masking_content": Setting("reference", "str", "whose content map masks a pair's "
                               "degradation", choices=MASKING_CONTENTS),
    "pooling": Setting("rms", "str", "pooling of the masked degradation map over positions: "
                       "rms or mean-abs", choices=POOLINGS),
    "invariance": Setting("infonce", "str", "content invariance: infonce = the distorted code "
                          "picks its reference among the batch's (keeps references apart); mse "
                          "= distance of the normalised codes only", choices=INVARIANCES),
    "temperature": Setting(0.1, "float", "InfoNCE temperature", low=1e-3, high=10.0),
    "w_invariance": Setting(1.0, "float", "weight of the content-invariance term", low=0),
    "w_independence": Setting(1.0, "float", "weight of the independence term (content code vs "
                              "degradation features, squared cross-correlation)", low=0),
    "w_reconstruction": Setting(1.0, "float", "weight of the swapped latent reconstruction "
                                "(distorted trunk map from reference content + distorted "
                                "degradation)", low=0),
    "w_intervention": Setting(1.0, "float", "weight of the intervention term (content codes "
                              "swapped across pairs; degradation code must stay)", low=0),
    "w_order": Setting(1.0, "float", "weight of the order term (the pair's interpolation r + "
                       "alpha (d - r) must have the smaller degradation; 0 also saves its trunk "
                       "pass)", low=0),
    "order_margin": Setting(0.05, "float", "hinge margin of the order term", low=0),
    "order_alpha": Setting([0.25, 0.75], "list", "range of alpha of the order term's "
                           "interpolations", item="float", low=0.0, high=1.0, length=2),
    "order_share": Setting(0.25, "float", "share of each batch's pairs that get an "
                           "interpolation for the order term (each costs one more trunk "
                           "image)", low=0.01, high=1.0),
    "self_supervised": Setting(1.0, "float", "factor of the whole self-supervised objective "
                               "beside the supervised loss (with no labels it is the loss)", low=0),
    "labelled_share": Setting(0.5, "float", "share of each batch drawn from the labelled pairs "
                              "when a fold has both kinds (all of it when every pair is labelled)",
                              low=0.01, high=1.0),
    "head": Setting("auto", "str", "what predicts: auto = regression with labelled pairs, "
                    "label-free without; regression; label-free", choices=HEADS),
    "orient": Setting("reference", "str", "sign of the label-free direction: reference = a "
                      "reference with itself is the zero-degradation end; extrapolate = r + "
                      "2 (d - r) must project further than the pair", choices=ORIENTS),
    "label_free_fit": Setting("all", "str", "training pairs the label-free head is fitted on: "
                              "all; unlabelled (the pairs passed without MOS; all when there "
                              "are none); or a dataset's name (e.g. the target of fr-cross "
                              "--adapt true, whose pairs train unlabelled)"),
}

# The gaps the abstract leaves, as this implementation fills them (describe() records them).
READINGS = {
    "encoders": "one trunk (model.backbone) shared by a content head and a degradation head "
                "(1x1 convolutions; every location of the map is a latent; method.encoders)",
    "degradation": "S(distorted) - S(reference): a reference paired with itself has zero "
                   "degradation by construction (fixed: the label-free anchor rests on it)",
    "invariance": "content codes of reference and distorted image agree (method.invariance)",
    "independence": "squared cross-correlation between content code and degradation features "
                    "over the batch, plus a swapped latent reconstruction",
    "intervention": "do(content := another pair's reference content) on the latent: decode, "
                    "re-encode, the degradation code must be unchanged",
    "order": "added here, not in the abstract: r + alpha (d - r) is a weaker version of the "
             "pair's own degradation and must have the smaller degradation features "
             "(method.w_order=0 removes it)",
    "masking": "divisive: degradation / (1 + softplus(V) |C| / kc), C the reference's content "
               "map (method.masking, method.masking_content)",
    "pooling": "per-channel RMS of the masked map (method.pooling)",
    "label_free": "first principal direction of the training pairs' degradation features, "
                  "sign from the pairs' own structure (method.orient), fitted after training",
    "adaptation": "unlabelled target pairs get the self-supervised losses only; the head is "
                  "refitted on them (method.label_free_fit)",
}


@METHODS.register("cdfr")
class CDFR(PairMethod):
    """Causal-disentanglement FR-IQA (a reading; see the module docstring and READINGS)."""

    display = "CDFR"
    settings = SETTINGS
    stateful = ("optimizer", "labelled_batches", "unlabelled_batches")
    labelled_batches = unlabelled_batches = None

    @classmethod
    def build_model(cls, cfg: dict, log=print):
        """(CDFRNet, init): the feature maps of the config's backbone (weights and init as
        the NR networks', bench.engine.models.build_model: ImageNet weights only from the local
        cache or model.weights) under the heads of the method's settings."""
        from bench.engine.models import build_model

        from .siamese import feature_trunk

        hp = cls(cfg).hp
        model, init = build_model(cfg["model"], log)
        trunk, channels = feature_trunk(model.backbone)
        second = None
        if hp["encoders"] == "separate":   # its own weights, initialised the same way
            second = feature_trunk(build_model(cfg["model"], log)[0].backbone)[0]
        return CDFRNet(trunk, channels, hp["content_dim"], hp["degradation_dim"], hp["hidden"],
                       hp["masking"], second, hp["pooling"], hp["masking_content"]), init

    def state(self) -> dict:
        """The checkpointed objects: the optimizer and the samplers a fold has (a fold
        without unlabelled, or without labelled, pairs has one sampler)."""
        return {k: v for k, v in super().state().items() if v is not None}

    # ---------------------------------------------------------------- training
    def setup(self, ctx: FitContext) -> None:
        e, hp, ts = ctx.engine, self.hp, ctx.train
        self.weights = Weights.from_settings(hp)
        labelled = np.flatnonzero(ts.labelled)
        unlabelled = np.flatnonzero(~ts.labelled)
        self.head = self._resolve_head(len(labelled))
        if not len(labelled) and hp["self_supervised"] == 0:
            raise UsageError("method.self_supervised=0 leaves cdfr nothing to train on a fold "
                             "without labelled pairs; give it a positive weight")
        codes: dict = {}
        self.ref_codes = torch.tensor([codes.setdefault(r, len(codes)) for r in ts.ref])
        b = int(self.cfg["train"]["batch_size"])
        n_lab = b if not len(unlabelled) else (0 if not len(labelled) else
                                               max(1, min(b - 1, round(hp["labelled_share"] * b))))
        self.labelled_batches = BatchSampler(labelled, n_lab, e.rng) if n_lab else None
        self.unlabelled_batches = BatchSampler(unlabelled, b - n_lab, e.rng) if b - n_lab else None
        self.labelled_pos, self.unlabelled_pos = labelled, unlabelled
        # checked before training, not after: a misspelt dataset name fails at once
        self.fit_pos = self._label_free_positions(ts) if self.head == "label-free" else None
        self.optimizer = e.adam(e.model.parameters(), self.cfg["train"]["lr"])
        self.last_terms: dict = {}
        self.label_free: dict = {}

    def _resolve_head(self, n_labelled: int) -> str:
        head = self.hp["head"]
        if head == "auto":
            return "regression" if n_labelled else "label-free"
        if head == "regression" and not n_labelled:
            raise UsageError("method.head=regression needs labelled pairs, and this fold has "
                             "none (a label-free protocol); use method.head=auto or label-free")
        return head

    def iterations_per_epoch(self) -> int:
        b = int(self.cfg["train"]["batch_size"])
        return max(1, -(-(len(self.labelled_pos) + len(self.unlabelled_pos)) // b))

    def _next_positions(self) -> tuple[np.ndarray, int]:
        """Training positions of the next batch (labelled first) and how many are labelled."""
        lab = (self.labelled_pos[self.labelled_batches.next()]
               if self.labelled_batches is not None else np.zeros(0, dtype=np.int64))
        unl = (self.unlabelled_pos[self.unlabelled_batches.next()]
               if self.unlabelled_batches is not None else np.zeros(0, dtype=np.int64))
        return np.concatenate([lab, unl]), len(lab)

    def update(self, ctx: FitContext) -> float:
        pos, n_lab = self._next_positions()
        ref, dist, mos = self.pair_batch(ctx, pos)
        model = ctx.engine.model
        w = self.weights
        ssl, terms, out = self_supervised(model, ref, dist, self.ref_codes[pos], w,
                                          *draws(len(pos), w, ctx.engine.rng), score=n_lab > 0)
        loss = self.hp["self_supervised"] * ssl
        if n_lab:
            sup = supervised_loss(out.score[:n_lab], mos[:n_lab], self.cfg["train"]["loss"])
            terms["supervised"] = float(sup.detach())
            loss = loss + sup
        self.last_terms = terms
        return self.step(ctx, self.optimizer, loss, len(pos))

    def end_training(self, ctx: FitContext) -> None:
        if self.head == "label-free":
            self._fit_label_free(ctx)

    def _fit_label_free(self, ctx: FitContext) -> None:
        """Fit the label-free head on the training pairs (test view, eval mode) and keep
        it in the model's buffers."""
        from .cdfr_labelfree import collect_features

        ts = ctx.train
        pos = self.fit_pos
        bs = int(self.cfg["test"]["batch_size"])
        batches = (self.test_pairs(ts.pairs, ts.index[pos[a:a + bs]])  # streamed, not held
                   for a in range(0, len(pos), bs))
        head = LabelFreeHead().fit(*collect_features(ctx.engine.model, batches, self.hp["orient"]))
        ctx.engine.model.set_label_free(head.direction, head.anchor)
        self.label_free = {"fit_pairs": int(len(pos)), "explained": round(head.explained, 4),
                           "orient": self.hp["orient"]}

    def _label_free_positions(self, ts) -> np.ndarray:
        """Training positions the label-free head is fitted on (method.label_free_fit)."""
        which = self.hp["label_free_fit"]
        if which == "all" or (which == "unlabelled" and not len(self.unlabelled_pos)):
            return np.arange(len(ts))
        if which == "unlabelled":
            return self.unlabelled_pos
        pos = np.flatnonzero(np.asarray(ts.dataset) == which)
        if not len(pos):
            raise UsageError(f"method.label_free_fit={which}: no training pair comes from a "
                             f"dataset of that name (this fold trains on "
                             f"{', '.join(sorted(set(ts.dataset)))}); use all, unlabelled or one of those")
        return pos

    # ---------------------------------------------------------------- prediction
    def score(self, ref, dist):
        out: PairOutput = self.engine.model(ref, dist, score=self.head == "regression")
        if self.head == "regression":
            return out.score
        return self.engine.model.label_free_score(out.features)

    def describe(self) -> dict:
        return {**super().describe(), "readings": dict(READINGS),
                "head": getattr(self, "head", None), "label_free": getattr(self, "label_free", {}),
                "labelled_pairs": int(len(getattr(self, "labelled_pos", []))),
                "unlabelled_pairs": int(len(getattr(self, "unlabelled_pos", []))),
                "last_terms": {k: round(v, 5) for k, v in getattr(self, "last_terms", {}).items()}}
