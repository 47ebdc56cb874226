"""The label-free head of ``cdfr`` (the paper's "label-free dimensionality reduction", as
read here) and the scenario-specific adaptation on a target domain's unlabelled pairs.

The head is the first principal direction v of the pooled masked degradation features m
of the training pairs (N x ks). Its sign comes from the pairs' own structure, never from
a MOS: the direction is oriented so that the stronger member of a (weaker, stronger)
couple of pairs projects further along v, and the score of a pair is -v . (m - m0),
where m0 is the mean feature of the weaker members (higher = better quality, like MOS).

Orientation readings (``orient``):

* 'reference': weaker = each reference paired with itself (zero degradation; its
  features are exactly 0 under the model's difference-and-RMS pooling), stronger = the
  pair as given;
* 'extrapolate': weaker = the pair as given, stronger = its extrapolation
  clip(r + 2 (d - r), 0, 1), a stronger version of the same degradation.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np
import torch

from bench.core.errors import BenchError

from .cdfr_losses import Weights, draws, self_supervised
from .cdfr_model import CDFRNet

ORIENTS = ("reference", "extrapolate")


class LabelFreeHead:
    """First principal direction of degradation features, oriented without labels.

    After :meth:`fit`: direction v (ks), anchor m0 (ks), explained (the share of variance
    along v, in [0, 1])."""

    def __init__(self):
        self.direction: Optional[torch.Tensor] = None
        self.anchor: Optional[torch.Tensor] = None
        self.explained = float("nan")

    def fit(self, features: torch.Tensor, weaker: torch.Tensor, stronger: torch.Tensor) -> "LabelFreeHead":
        """Fit on N x ks training features; orient on the (weaker, stronger) features of
        the same or other pairs (M x ks each, row i of one the counterpart of row i of the
        other). BenchError when the features do not vary (nothing to reduce)."""
        x = features.detach().double()
        centred = x - x.mean(dim=0, keepdim=True)
        if x.shape[0] < 2 or float(centred.abs().max()) == 0.0:
            raise BenchError("cdfr's label-free head got degradation features that do not vary "
                             f"over {x.shape[0]} training pairs; it needs at least two distinct pairs")
        _, sv, vh = torch.linalg.svd(centred, full_matrices=False)
        v = vh[0]
        self.explained = float(sv[0] ** 2 / (sv ** 2).sum())
        gap = (stronger.detach().double() - weaker.detach().double()).mean(dim=0)
        if float(gap @ v) < 0:
            v = -v
        self.direction = v
        self.anchor = weaker.detach().double().mean(dim=0)
        return self

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """Label-free scores of N x ks features: N float64 values, higher = better quality
        (0 at the anchor; the units are those of the features)."""
        if self.direction is None:
            raise RuntimeError("LabelFreeHead.score before fit")
        return -(features.detach().double() - self.anchor) @ self.direction

    def state(self) -> dict:
        """Plain tensors for a checkpoint or the run record."""
        return {"direction": self.direction, "anchor": self.anchor,
                "explained": torch.tensor(self.explained)}

    def load(self, state: dict) -> None:
        """Restore from :meth:`state`."""
        self.direction, self.anchor = state["direction"], state["anchor"]
        self.explained = float(state["explained"])


PairBatches = Iterable[tuple[torch.Tensor, torch.Tensor]]  # (ref, dist), B x 3 x H x W in [0, 1]


@torch.no_grad()
def collect_features(model: CDFRNet, batches: PairBatches, orient: str = "reference"
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features, weaker, stronger) of every pair in ``batches`` with the model in eval
    mode (its mode is restored): N x ks each, as :meth:`LabelFreeHead.fit` wants them."""
    if orient not in ORIENTS:
        raise ValueError(f"orient must be one of {ORIENTS}, not {orient!r}")
    was = model.training
    model.eval()
    feats, weak, strong = [], [], []
    try:
        for ref, dist in batches:
            m = model.pooled_features(ref, dist)
            feats.append(m)
            if orient == "reference":
                weak.append(model.pooled_features(ref, ref))
                strong.append(m)
            else:
                weak.append(m)
                strong.append(model.pooled_features(ref, (2 * dist - ref).clamp(0, 1)))
    finally:
        model.train(was)
    return torch.cat(feats), torch.cat(weak), torch.cat(strong)


def fit_label_free(model: CDFRNet, batches: PairBatches, orient: str = "reference") -> LabelFreeHead:
    """The label-free head fitted on the pairs of ``batches`` (a re-iterable or a list)."""
    return LabelFreeHead().fit(*collect_features(model, batches, orient))


@torch.no_grad()
def label_free_scores(model: CDFRNet, head: LabelFreeHead, batches: PairBatches) -> torch.Tensor:
    """Scores (float64, one per pair, higher = better) of the pairs of ``batches``."""
    was = model.training
    model.eval()
    try:
        return torch.cat([head.score(model.pooled_features(r, d)) for r, d in batches])
    finally:
        model.train(was)


def adapt(model: CDFRNet, optimizer: torch.optim.Optimizer, steps: int,
          next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
          weights: Weights, rng: np.random.Generator) -> list[float]:
    """Scenario-specific, annotation-free adaptation: ``steps`` optimizer steps of the
    self-supervised loss on a target domain's unlabelled pairs (``next_batch()`` ->
    (ref, dist, ref_ids)); the per-step losses. Refit the label-free head afterwards."""
    model.train()
    losses = []
    for _ in range(steps):
        ref, dist, ids = next_batch()
        loss, _, _ = self_supervised(model, ref, dist, ids, weights, *draws(len(ref), weights, rng))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
