"""WaDIQaM-NR (Bosse et al., IEEE TIP 2018): a VGG-like network scores small patches, a second
branch gives each patch a weight, and the image score is the weighted average of the patch
scores (Eq. "weighted average patch aggregation").

Network (``width`` w; the paper's w = 32): five stages of two 3x3 conv + ReLU and a 2x2
max-pool (w, 2w, 4w, 8w, 16w channels), so a 32 x 32 patch becomes a 16w vector; the
quality branch FC 16w-16w, ReLU, dropout, FC 16w-1; the weight branch the same followed by
a ReLU, plus eps = 1e-8 so the weights never all vanish. Score = sum_i w_i q_i / sum_i w_i
over the image's patches. Built here in our own words: pyiqa's ``WaDIQaM`` builds offline
with pretrained=False but fixes w = 32, draws its test patches so that a 32 or 64 px view
loses its last row and column of patches (a 32 px crop has none), so it does not fit the
harness's small crops.

Training follows the harness (ERM's uniform minibatches, the engine's random crop and flip,
an epoch = the training-set size in images, so images_seen equals ERM's). Paper profile:
the training settings as we read them in the paper (not checked against code): Adam lr
1e-4, mini-batches of 4 images x 32 random 32 x 32 patches, L1 loss, dropout 0.5, 3000
epochs with no decay (the paper stops early on a validation split; the harness keeps the
last epoch: no selection).

Deviations from the paper, on purpose:
* patches are cut from the engine's training crop (data.crop: 64 px on quick, 224 on
  paper) instead of the whole image; ``train_patches`` random patches per crop (4 on quick,
  32 on paper); a test image is every patch of a grid tiling its test view (the last
  row and column aligned with the edge, so every pixel is covered), not 32 random ones;
* inputs are normalised with ImageNet statistics like every harness network (the paper
  feeds raw RGB); the network starts from He (Kaiming normal) init, zero biases: PyTorch's
  default init shrinks the signal through the ten plain conv layers, and on the quick
  profile the network then predicted a constant (training loss flat from epoch 2, training
  SROCC 0.30 on the GB fold of the synthetic suite);
* quick: w = 4 (the paper's 32 costs about 60x ERM's small CNN per image on a CPU), no
  dropout (the quick profile's choice for ERM too), the profile's train.* schedule.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from bench.core.errors import UsageError
from bench.core.registry import METHODS
from bench.core.settings import Setting

from .base import DeepNR, Normalize, full_precision, schedule_settings


def weighted_pool(q: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted average of patch scores: q, w are N x K (K patches per image, w >= 0 with
    positive sums); returns N scores sum_k w_nk q_nk / sum_k w_nk."""
    return (q * w).sum(dim=1) / w.sum(dim=1)


def grid_starts(size: int, patch: int) -> list[int]:
    """Top-left offsets along one side of ``size`` px of non-overlapping ``patch`` px
    patches covering it; the last one is moved back to end at the edge when ``patch`` does
    not divide ``size`` (so it overlaps its neighbour)."""
    starts = list(range(0, size - patch + 1, patch))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def random_patches(x: torch.Tensor, k: int, patch: int) -> torch.Tensor:
    """``k`` random ``patch`` x ``patch`` patches per image of x (N x C x H x W), positions
    uniform and independent per image (torch's generator): N x k x C x patch x patch."""
    n, _, h, w = x.shape
    dev = x.device
    top = torch.randint(0, h - patch + 1, (n, k), device=dev)
    left = torch.randint(0, w - patch + 1, (n, k), device=dev)
    rows = (top[..., None] + torch.arange(patch, device=dev))[..., :, None]   # N k p 1
    cols = (left[..., None] + torch.arange(patch, device=dev))[..., None, :]  # N k 1 p
    idx = torch.arange(n, device=dev)[:, None, None, None]
    return x.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 1, 4, 2, 3)      # N k C p p


def grid_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    """The patches of a grid tiling each image (:func:`grid_starts` on both sides):
    N x K x C x patch x patch, the same K positions for every image."""
    tiles = [x[:, :, r:r + patch, c:c + patch]
             for r in grid_starts(x.shape[2], patch) for c in grid_starts(x.shape[3], patch)]
    return torch.stack(tiles, dim=1)


class WaDIQaMNet(nn.Module):
    """WaDIQaM-NR: ``forward(x)`` maps N x 3 x H x W images in [0, 1] (H, W >= patch) to N
    scores, the weighted average of per-patch scores (random patches in training mode, a
    tiling grid in eval mode)."""

    def __init__(self, width: int = 32, patch: int = 32, train_patches: int = 32,
                 dropout: float = 0.5, eps: float = 1e-8):
        super().__init__()
        self.patch, self.train_patches, self.eps = patch, train_patches, eps
        self.normalize = Normalize()
        layers, cin = [], 3
        for k in range(5):
            cout = width * 2 ** k
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.quality = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(inplace=True),
                                     nn.Dropout(dropout), nn.Linear(cin, 1))
        self.weight = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(inplace=True),
                                    nn.Dropout(dropout), nn.Linear(cin, 1), nn.ReLU())
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def patch_scores(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(q, w), each N x K, of patches N x K x 3 x p x p in [0, 1]."""
        n, k = patches.shape[:2]
        h = self.features(self.normalize(patches.flatten(0, 1)))
        with full_precision(h):
            h = h.float().mean(dim=(2, 3))  # 1 x 1 for 32 px patches; an average for larger
            return self.quality(h).view(n, k), (self.weight(h) + self.eps).view(n, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            patches = random_patches(x, self.train_patches, self.patch)
        else:
            patches = grid_patches(x, self.patch)
        q, w = self.patch_scores(patches)
        with full_precision(q):
            return weighted_pool(q, w)


@METHODS.register("wadiqam")
class WaDIQaM(DeepNR):
    """Patch scores and weights, weighted-average pooled; ERM's schedule and budget (deep/wadiqam.py)."""

    display = "WaDIQaM-NR"
    settings = {
        "width": Setting(4, "int", "channels of the first conv stage (x2 per stage; the "
                         "paper's 32)", low=1, per_profile={"paper": 32}),
        "patch": Setting(32, "int", "patch side, px (the paper's 32: five 2x2 pools to 1x1)",
                         low=32),
        "train_patches": Setting(4, "int", "random patches per training crop",
                                 low=1, per_profile={"paper": 32}),
        "dropout": Setting(0.0, "float", "dropout of both FC branches", low=0, high=0.99,
                           per_profile={"paper": 0.5}),
        "loss": Setting("l1", "str", "training loss (the paper's: l1)", choices=("l1", "mse")),
        **schedule_settings(epochs=3000, lr=1e-4, batch=4, step_epochs=3000, decay=1.0,
                            weight_decay=0.0),
    }

    @classmethod
    def network(cls, cfg: dict, hp: dict, log: Callable[[str], None]) -> tuple:
        crop = int(cfg["data"]["crop"])
        if crop < hp["patch"]:
            raise UsageError(f"method.patch={hp['patch']} is larger than data.crop={crop}: "
                             "WaDIQaM cuts its patches from the crop; lower method.patch "
                             "(>= 32) or raise data.crop")
        return WaDIQaMNet(hp["width"], hp["patch"], hp["train_patches"], hp["dropout"]), "random"

    def describe(self) -> dict:
        return {**super().describe(), "network": "WaDIQaM-NR (weighted average patch pooling)",
                "init": "random"}
