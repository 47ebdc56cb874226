"""HyperIQA (Su et al., CVPR 2020): a backbone's content features drive a hyper network that
produces, per image, the weights of a small target network; the target network maps a
multi-scale local-distortion vector of the same image to its score.

Network (our own words; sizes on the paper profile = the official code's, quick in brackets):
* backbone: the harness's (method.backbone, null = model.backbone; the paper's ResNet-50 on
  the paper profile, the small CNN on quick), cut into its four stages (maps M1..M4);
* local distortion aware (LDA) vector: for M1..M3 a bias-free 1x1 conv to C_k / 16 channels,
  average pooling to a g_k x g_k grid (8, 4, 2 [4, 2, 1]) and an FC to ``lda_out`` (16 [8])
  values; for M4 global average pooling and an FC to the rest of the target input
  (t0 - 3 lda_out); concatenated: the target input of t0 = 224 [64] values;
* hyper network: three 1x1 conv + ReLU (C4 -> C4/2 -> C4/4 -> ``hyper_in`` = 112 [32]) on M4,
  pooled to a ``grid`` x ``grid`` map (7 [2]; ResNet-50's 224 px map is 7 x 7 already). Layer
  i of the target (t_{i-1} -> t_i, t = 224-112-56-28-14 [64-32-16-8-4]) takes its weight
  matrix from a 3x3 conv of that map to ceil(t_{i-1} t_i / grid^2) channels, flattened (and
  cut to t_{i-1} t_i values), its bias from an FC of the map's average; the last layer
  (t_4 -> 1) takes weights and bias from FCs of the average;
* target network: four FC layers with sigmoids, then the linear output; the score.

Training: L1 loss, Adam with the hyper network (everything but the backbone) at ``lr_ratio``
x the backbone's lr; ERM's uniform minibatches, crops and image budget (images_seen equals
ERM's). Paper profile: the official code's settings (lr 2e-5, ratio 10, weight decay 5e-4,
batch 96, 16 epochs, lr / 10 every 6 epochs).

Deviations from the paper, on purpose:
* one random crop per image and step (the engine's: data.crop) and one test view (test.view)
  instead of 25 random 224 px crops per image in training and 25 averaged in testing;
* the lr decay applies to both groups and the ratio stays (the official code decays only the
  hyper network's lr and sets the ratio to 1 after epoch 8); the last epoch is tested (the
  official code reports the best test epoch: selection on the test split);
* the grid pooling and ceil-and-cut weight sizes let any backbone and crop size work (the
  official code needs a 7 x 7 map and sizes divisible by 49);
* quick: lr_ratio 1 (10 x the quick profile's lr 2e-3 diverges easily with Adam) and the
  smaller sizes in brackets above.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.errors import UsageError
from bench.core.registry import METHODS
from bench.core.settings import Setting

from .base import (
    DeepNR,
    Normalize,
    Stages,
    full_precision,
    harness_backbone,
    schedule_settings,
)


def target_forward(vec: torch.Tensor, weights: list, biases: list) -> torch.Tensor:
    """The target network of a batch: per image n, h = vec[n]; h = sigmoid(W_i[n] h + b_i[n])
    for every layer but the last, then the last layer's W[n] h + b[n] (no sigmoid).
    vec: N x t0; weights[i]: N x t_{i+1} x t_i; biases[i]: N x t_{i+1}. Returns N scores."""
    h = vec
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = torch.bmm(w, h.unsqueeze(2)).squeeze(2) + b
        if i < len(weights) - 1:
            h = torch.sigmoid(h)
    return h.squeeze(1)


class HyperIQANet(nn.Module):
    """HyperIQA: ``forward(x)`` maps N x 3 x H x W images in [0, 1] to N scores."""

    def __init__(self, stages: Stages, lda_out: int = 16, hyper_in: int = 112,
                 target_dims=(224, 112, 56, 28, 14), grid: int = 7, lda_grids=(8, 4, 2)):
        super().__init__()
        c = stages.channels
        dims = [int(d) for d in target_dims]
        if dims[0] <= 3 * lda_out:
            raise UsageError(f"method.target_dims[0]={dims[0]} must exceed 3 x method.lda_out "
                             f"= {3 * lda_out} (the three local vectors and the global one)")
        self.normalize, self.stages = Normalize(), stages
        self.grid, self.dims = grid, dims
        self.lda_convs = nn.ModuleList(nn.Conv2d(c[k], max(1, c[k] // 16), 1, bias=False)
                                       for k in range(3))
        self.lda_pools = nn.ModuleList(nn.AdaptiveAvgPool2d(g) for g in lda_grids)
        self.lda_fcs = nn.ModuleList(nn.Linear(max(1, c[k] // 16) * g * g, lda_out)
                                     for k, g in enumerate(lda_grids))
        self.lda_global = nn.Linear(c[3], dims[0] - 3 * lda_out)
        self.reduce = nn.Sequential(
            nn.Conv2d(c[3], max(1, c[3] // 2), 1), nn.ReLU(inplace=True),
            nn.Conv2d(max(1, c[3] // 2), max(1, c[3] // 4), 1), nn.ReLU(inplace=True),
            nn.Conv2d(max(1, c[3] // 4), hyper_in, 1), nn.ReLU(inplace=True))
        pairs = list(zip(dims[:-1], dims[1:]))
        self.weight_convs = nn.ModuleList(
            nn.Conv2d(hyper_in, math.ceil(a * b / grid ** 2), 3, padding=1) for a, b in pairs)
        self.bias_fcs = nn.ModuleList(nn.Linear(hyper_in, b) for _, b in pairs)
        self.last_weight = nn.Linear(hyper_in, dims[-1])
        self.last_bias = nn.Linear(hyper_in, 1)
        for m in [*self.lda_convs, *self.lda_fcs, self.lda_global, *self.weight_convs,
                  *self.bias_fcs, self.last_weight, self.last_bias]:
            nn.init.kaiming_normal_(m.weight)  # the official code's init of these layers

    def local_vector(self, maps: list) -> torch.Tensor:
        """The target network's input, N x t0: the LDA vectors of maps 1-3 and the global
        one of map 4, concatenated."""
        parts = [fc(pool(conv(m)).flatten(1))
                 for conv, pool, fc, m in zip(self.lda_convs, self.lda_pools, self.lda_fcs, maps)]
        parts.append(self.lda_global(maps[3].mean(dim=(2, 3))))
        return torch.cat(parts, dim=1)

    def target_params(self, m4: torch.Tensor) -> tuple[list, list]:
        """Per-image target weights and biases from the last map (see
        :func:`target_forward` for their shapes)."""
        h = F.adaptive_avg_pool2d(self.reduce(m4), self.grid)
        pooled = h.mean(dim=(2, 3))
        n, weights, biases = h.shape[0], [], []
        for (a, b), conv, fc in zip(zip(self.dims[:-1], self.dims[1:]), self.weight_convs,
                                    self.bias_fcs):
            weights.append(conv(h).flatten(1)[:, :a * b].view(n, b, a))
            biases.append(fc(pooled))
        weights.append(self.last_weight(pooled).view(n, 1, self.dims[-1]))
        biases.append(self.last_bias(pooled))
        return weights, biases

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.stages(self.normalize(x))
        with full_precision(x):   # the hyper and target networks: small, and in fp32
            maps = [m.float() for m in maps]
            weights, biases = self.target_params(maps[3])
            return target_forward(self.local_vector(maps), weights, biases)


@METHODS.register("hyperiqa")
class HyperIQA(DeepNR):
    """A hyper network sets a target net's weights per image; ERM's budget (deep/hyperiqa.py)."""

    display = "HyperIQA"
    settings = {
        "backbone": Setting(None, "str", "backbone from the harness registry (null: "
                            "model.backbone; the paper's resnet50 on the paper profile)",
                            nullable=True, per_profile={"paper": "resnet50"}),
        "lda_out": Setting(8, "int", "size of each local (LDA) vector of stages 1-3",
                           low=1, per_profile={"paper": 16}),
        "hyper_in": Setting(32, "int", "channels of the hyper network's input map", low=1,
                            per_profile={"paper": 112}),
        "target_dims": Setting([64, 32, 16, 8, 4], "list", "target network: input size and "
                               "its four hidden FC sizes", item="int", low=1, length=5,
                               per_profile={"paper": [224, 112, 56, 28, 14]}),
        "grid": Setting(2, "int", "side of the pooled map the weight convs run on", low=1,
                        per_profile={"paper": 7}),
        "lda_grids": Setting([4, 2, 1], "list", "pooled grid side of the LDA modules of "
                             "stages 1-3", item="int", low=1, length=3,
                             per_profile={"paper": [8, 4, 2]}),
        "lr_ratio": Setting(1.0, "float", "hyper network lr / backbone lr", low=0,
                            per_profile={"paper": 10.0}),
        "loss": Setting("l1", "str", "training loss (the paper's: l1)", choices=("l1", "mse")),
        **schedule_settings(epochs=16, lr=2e-5, batch=96, step_epochs=6, decay=0.1,
                            weight_decay=5e-4),
    }

    @classmethod
    def network(cls, cfg: dict, hp: dict, log: Callable[[str], None]) -> tuple:
        backbone, init = harness_backbone(cfg, hp["backbone"], log)
        stages = Stages(backbone, hp["backbone"] or cfg["model"]["backbone"])
        return HyperIQANet(stages, hp["lda_out"], hp["hyper_in"], hp["target_dims"],
                           hp["grid"], hp["lda_grids"]), init

    def param_groups(self, model: nn.Module, lr: float) -> list:
        backbone = list(model.stages.parameters())
        ids = {id(p) for p in backbone}
        hyper = [p for p in model.parameters() if id(p) not in ids]
        return [{"params": backbone, "lr": lr},
                {"params": hyper, "lr": lr * float(self.hp["lr_ratio"])}]

    def describe(self) -> dict:
        return {**super().describe(), "network": "HyperIQA (hyper network + target network)",
                "backbone": self.hp["backbone"] or self.cfg["model"]["backbone"],
                "lr_ratio": self.hp["lr_ratio"]}
