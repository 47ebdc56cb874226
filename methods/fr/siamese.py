"""``fr-siamese``: the trainable full-reference baseline, a deep feature-difference
regressor in the WaDIQaM-FR / LPIPS style.

One backbone (``model.backbone`` from bench.engine.models.BACKBONES, shared by both inputs, its
spatial feature maps: the convolutional trunk without pooling or classifier) embeds the
reference r and the distorted image d; the per-position difference |f(r) - f(d)| is
averaged over positions (LPIPS's spatial mean), optionally concatenated with the pooled
f(r) and f(d) (WaDIQaM-FR's fusion, ``method.fusion=diff+both``), and an MLP head with a
sigmoid maps it to a score in [0, 1]. Trained with the engine's inner Adam, lr schedule
and loss (train.*) on the labelled training pairs only, minibatches drawn uniformly; an
epoch is the training set's size in pairs (labelled or not), so every label budget gets the
same number of optimizer steps. Unlabelled pairs are never used (NaN MOS), and a fold
without labelled pairs is refused (it is a supervised baseline).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.core.errors import UsageError
from bench.engine.method import FitContext, Setting
from bench.engine.pair_method import PairMethod
from bench.engine.models import IMAGENET_MEAN, IMAGENET_STD, SmallCNN
from bench.core.registry import METHODS
from bench.engine.samplers import BatchSampler


def feature_trunk(backbone: nn.Module) -> tuple[nn.Module, int]:
    """(trunk, channels): the part of ``backbone`` that maps B x 3 x H x W to spatial
    feature maps B x C x h x w: the small CNN's ``features``; a torchvision ResNet up to
    its last stage (no pooling, no classifier); any other backbone whole, its output
    vector read as a C x 1 x 1 map."""
    if isinstance(backbone, SmallCNN):
        return backbone.features, backbone.out_features
    if all(hasattr(backbone, a) for a in ("layer4", "avgpool", "fc")):
        trunk = nn.Sequential(*[m for n, m in backbone.named_children() if n not in ("avgpool", "fc")])
        return trunk, backbone.fc.in_features
    return backbone, int(backbone.out_features)


class SiameseFR(nn.Module):
    """Shared trunk, pooled |f(r) - f(d)| (and pooled f(r), f(d) when ``both``), MLP head
    with a sigmoid; ``forward(ref, dist)`` maps two B x 3 x H x W in [0, 1] to B scores."""

    def __init__(self, backbone: nn.Module, hidden: int, both: bool):
        super().__init__()
        self.trunk, c = feature_trunk(backbone)
        self.both = both
        width = 3 * c if both else c
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, 1), nn.Sigmoid())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """B x C x h x w feature maps of images x (B x 3 x H x W in [0, 1])."""
        f = self.trunk((x - self.mean) / self.std)
        return f if f.dim() == 4 else f[:, :, None, None]

    def forward(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        both = self.features(torch.cat([ref, dist]))   # one pass: BatchNorm sees both
        fr, fd = both[:len(ref)], both[len(ref):]
        parts = [(fr - fd).abs().mean(dim=(2, 3))]
        if self.both:
            parts += [fr.mean(dim=(2, 3)), fd.mean(dim=(2, 3))]
        return self.head(torch.cat(parts, dim=1)).squeeze(1)


@METHODS.register("fr-siamese")
class FRSiamese(PairMethod):
    """Siamese feature-difference FR regressor (WaDIQaM-FR / LPIPS style) on labelled pairs."""

    display = "Siamese-FR"
    stateful = ("optimizer", "sampler")
    settings = {
        "hidden": Setting(64, "int", "units of the MLP head's hidden layer", low=1),
        "fusion": Setting("diff", "str", "what the head sees: diff (pooled |f(r)-f(d)|, "
                          "LPIPS) or diff+both (also pooled f(r), f(d), WaDIQaM-FR)",
                          choices=("diff", "diff+both")),
    }

    @classmethod
    def build_model(cls, cfg: dict, log=print):
        """(SiameseFR, init): the config's backbone (ImageNet weights only from the local
        cache, as bench.engine.models.build_model) in the Siamese network."""
        from bench.engine.models import build_model

        hp = cls(cfg).hp
        model, init = build_model(cfg["model"], log)   # weights and init as the NR networks'
        return SiameseFR(model.backbone, int(hp["hidden"]), hp["fusion"] == "diff+both"), init

    def setup(self, ctx: FitContext) -> None:
        e, t = ctx.engine, self.cfg["train"]
        labelled = self.labelled_positions(ctx)
        if not len(labelled):
            raise UsageError(f"--method {self.cfg['method']} is supervised and this fold has no "
                             "labelled pairs (use a label-free method, e.g. a pyiqa-fr:NAME "
                             "metric, under this protocol)")
        self.optimizer = e.adam(e.model.parameters(), t["lr"])
        self.labelled = labelled
        self.sampler = BatchSampler(np.arange(len(labelled)), t["batch_size"], e.rng)
        self.n_labelled = len(labelled)

    def iterations_per_epoch(self) -> int:
        return self.sampler.batches_per_pass

    def update(self, ctx: FitContext) -> float:
        pos = self.labelled[self.sampler.next()]   # the sampler draws positions among them
        ref, dist, mos = self.pair_batch(ctx, pos)
        loss = ctx.engine.loss(ctx.engine.model(ref, dist), mos)
        return self.step(ctx, self.optimizer, loss, len(pos))

    def describe(self) -> dict:
        return {**super().describe(), "n_labelled": getattr(self, "n_labelled", None),
                "epoch_rule": "an epoch is the training set's size in pairs (labelled or not); "
                              "batches come from the labelled pairs only"}


__all__ = ["FRSiamese", "SiameseFR", "feature_trunk"]
