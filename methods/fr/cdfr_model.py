"""The network of ``cdfr`` (causal-disentanglement FR-IQA, 2026; a reading of its abstract,
the code is not public): a shared convolutional trunk with a content head and a
degradation head, a latent decoder for the intervention, a visual-masking module and a
supervised regression head.

Shapes (B pairs, K trunk channels, h x w the trunk's map, kc / ks the content and
degradation channels):

* ``trunk(x)``: B x 3 x H x W images in [0, 1] -> F, B x K x h x w (ImageNet-normalised
  inside the model, as the NR models do);
* content head: F -> C, B x kc x h x w; degradation head: F -> S, B x ks x h x w
  (1x1 convolutions: every location of the map is a latent of its own);
* latent decoder: (C, S) -> F-hat, B x K x h x w (what the intervention re-encodes);
* masking: (S(d) - S(r), C(r)) -> M, B x ks x h x w, the content-influenced degradation
  map (:class:`MaskingModule`);
* pooled degradation features m: B x ks, the per-channel RMS of M (exactly 0 when the
  distorted image is its reference);
* regression head: m -> B scores in [0, 1] (higher = better, like the normalised MOS).

Readings (options of the method, methods/fr/cdfr.py, unless said otherwise):

* the two "encoders" share one trunk (model.backbone's feature maps) and differ in their
  heads, so a pair costs two trunk passes (reference and distorted), as a Siamese FR
  baseline does (``encoders``: or two trunks, twice the cost);
* the degradation of a pair is the difference of the two degradation maps,
  S(d) - S(r), so a reference paired with itself has zero degradation by construction
  (fixed: the label-free head's zero-degradation anchor rests on it);
* masking is divisive (the classic contrast-masking model): the degradation map is
  divided by 1 + A, where the masking activity A >= 0 grows with the magnitude of the
  content code at that location, the reference's by default (``masking_content``;
  ``masking="none"``: the ablation);
* pooling is the per-channel root mean square over the map (``pooling``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.errors import UsageError
from bench.engine.models import IMAGENET_MEAN, IMAGENET_STD

MASKINGS = ("divisive", "none")
MASKING_CONTENTS = ("reference", "distorted")
POOLINGS = ("rms", "mean-abs")
_EPS = 1e-8


class MaskingModule(nn.Module):
    """Divisive visual masking: M = delta / (1 + A(C)) with A = W |C| / kc, W = softplus(V)
    >= 0 (ks x kc, learned). More content activity at a location means a larger divisor,
    so the same degradation is less visible on busy content; ``kind="none"`` returns delta
    unchanged (the ablation without masking).

    delta: B x ks x h x w degradation map; content: B x kc x h x w content map (of the
    reference). Returns B x ks x h x w.
    """

    def __init__(self, content_dim: int, degradation_dim: int, kind: str = "divisive",
                 init_gain: float = 1.0):
        super().__init__()
        if kind not in MASKINGS:
            raise UsageError(f"masking must be one of {', '.join(MASKINGS)}, not {kind!r}")
        self.kind = kind
        raw = float(torch.log(torch.expm1(torch.tensor(init_gain))))  # softplus(raw) = init_gain
        self.raw_weight = nn.Parameter(torch.full((degradation_dim, content_dim), raw))

    def activity(self, content: torch.Tensor) -> torch.Tensor:
        """A(C) >= 0, B x ks x h x w: the masking activity of every degradation channel."""
        w = F.softplus(self.raw_weight) / self.raw_weight.shape[1]
        return torch.einsum("sc,bchw->bshw", w, content.abs())

    def forward(self, delta: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return delta
        return delta / (1.0 + self.activity(content))


def rms_pool(maps: torch.Tensor) -> torch.Tensor:
    """B x k x h x w -> B x k: per-channel root mean square over the map, shifted so an
    all-zero map pools to exactly 0 (the square root is smoothed by 1e-8 for its gradient)."""
    floor = torch.tensor(_EPS, dtype=maps.dtype, device=maps.device).sqrt()  # same rounding
    return torch.sqrt(maps.pow(2).mean(dim=(2, 3)) + _EPS) - floor


def mean_abs_pool(maps: torch.Tensor) -> torch.Tensor:
    """B x k x h x w -> B x k: per-channel mean absolute value over the map."""
    return maps.abs().mean(dim=(2, 3))


POOL = {"rms": rms_pool, "mean-abs": mean_abs_pool}


def conv1x1(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1)


@dataclass
class PairOutput:
    """What :meth:`CDFRNet.forward` computes for B pairs (maps B x channels x h x w).

    feats: trunk maps of (reference, distorted); content / degradation: the heads' maps of
    (reference, distorted); masked: the masked degradation map M; features: pooled m,
    B x ks; score: B regression-head scores in [0, 1] (None when not asked for);
    extra_features: pooled m of the pairs (reference, extra image), k x ks, when
    ``forward`` was given extra images (None otherwise)."""

    feats: tuple[torch.Tensor, torch.Tensor]
    content: tuple[torch.Tensor, torch.Tensor]
    degradation: tuple[torch.Tensor, torch.Tensor]
    masked: torch.Tensor
    features: torch.Tensor
    score: Optional[torch.Tensor] = None
    extra_features: Optional[torch.Tensor] = None

    def content_codes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled content codes (reference, distorted), each B x kc (mean over the map)."""
        return tuple(c.mean(dim=(2, 3)) for c in self.content)


class CDFRNet(nn.Module):
    """Trunk, content / degradation heads, latent decoder, masking and regression head.

    trunk, channels: a feature-map network and its output channels K (e.g.
    methods.fr.siamese.feature_trunk of a registry backbone; a trunk that returns vectors
    N x K is read as 1 x 1 maps);
    content_dim kc, degradation_dim ks, hidden: widths of the heads and the decoder;
    masking: 'divisive' or 'none'; degradation_trunk: a second trunk of the same output
    shape for the degradation encoder (None: one trunk shared by both heads; with two,
    the latent is both trunks' maps stacked, 2K channels, content head on the first K,
    degradation head on the last K); pooling: 'rms' or 'mean-abs'; masking_content:
    whose content map masks the pair's degradation, 'reference' or 'distorted'.
    """

    def __init__(self, trunk: nn.Module, channels: int, content_dim: int = 32,
                 degradation_dim: int = 32, hidden: int = 64, masking: str = "divisive",
                 degradation_trunk: Optional[nn.Module] = None, pooling: str = "rms",
                 masking_content: str = "reference"):
        super().__init__()
        if pooling not in POOL or masking_content not in MASKING_CONTENTS:
            raise UsageError(f"pooling must be one of {', '.join(POOL)} and masking_content one "
                             f"of {', '.join(MASKING_CONTENTS)}, not {pooling!r}, {masking_content!r}")
        self.trunk = trunk
        self.degradation_trunk = degradation_trunk
        self.channels = channels
        self.pool = POOL[pooling]
        self.masking_content = masking_content
        self.content_head = conv1x1(channels, content_dim)
        self.degradation_head = conv1x1(channels, degradation_dim)
        latent = channels * (1 if degradation_trunk is None else 2)
        self.decoder = nn.Sequential(conv1x1(content_dim + degradation_dim, hidden),
                                     nn.ReLU(inplace=True), conv1x1(hidden, latent))
        self.masking = MaskingModule(content_dim, degradation_dim, masking)
        self.regressor = nn.Sequential(nn.Linear(degradation_dim, hidden), nn.ReLU(inplace=True),
                                       nn.Linear(hidden, 1), nn.Sigmoid())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        # the label-free head (cdfr_labelfree.LabelFreeHead) once fitted, kept with the
        # weights so a saved model predicts the way it was tested
        self.register_buffer("label_free_direction", torch.zeros(degradation_dim))
        self.register_buffer("label_free_anchor", torch.zeros(degradation_dim))

    def set_label_free(self, direction: torch.Tensor, anchor: torch.Tensor) -> None:
        """Keep a fitted label-free head: its direction v and anchor m0 (ks each)."""
        self.label_free_direction.copy_(direction.to(self.label_free_direction))
        self.label_free_anchor.copy_(anchor.to(self.label_free_anchor))

    def label_free_score(self, features: torch.Tensor) -> torch.Tensor:
        """-(m - m0) . v of pooled features m (B x ks): B scores, higher = better."""
        return -(features - self.label_free_anchor) @ self.label_free_direction

    def features_of(self, x: torch.Tensor) -> torch.Tensor:
        """Latent maps of images ``x`` (N x 3 x H x W in [0, 1]): N x K x h x w (N x 2K
        x h x w with a separate degradation trunk)."""
        x = (x - self.mean) / self.std
        maps = [self.trunk(x)] + ([] if self.degradation_trunk is None else [self.degradation_trunk(x)])
        maps = [f if f.dim() == 4 else f[:, :, None, None] for f in maps]
        return maps[0] if len(maps) == 1 else torch.cat(maps, dim=1)

    def encode(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(content map C, degradation map S) of latent maps ``feats`` (features_of's)."""
        if self.degradation_trunk is None:
            return self.content_head(feats), self.degradation_head(feats)
        k = self.channels
        return self.content_head(feats[:, :k]), self.degradation_head(feats[:, k:])

    def decode(self, content: torch.Tensor, degradation: torch.Tensor) -> torch.Tensor:
        """The latent decoder: latent maps (as features_of's) from (C, S) maps of one size."""
        return self.decoder(torch.cat([content, degradation], dim=1))

    def pair_maps(self, c_mask, s_ref, s_dist) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked map M, pooled features m) of pairs from the masking content map (the
        reference's or the distorted image's, ``masking_content``) and both degradation
        maps."""
        masked = self.masking(s_dist - s_ref, c_mask)
        return masked, self.pool(masked)

    def forward(self, ref: torch.Tensor, dist: torch.Tensor, score: bool = True,
                extra: Optional[torch.Tensor] = None) -> PairOutput:
        """Everything the losses and heads need for B pairs (reference, distorted), each
        B x 3 x H x W in [0, 1]; one trunk pass over both (BatchNorm sees them together)
        and over ``extra`` (k <= B more images, paired with the first k references) when
        given."""
        images = [ref, dist] if extra is None else [ref, dist, extra]
        feats = self.features_of(torch.cat(images))
        content, degradation = self.encode(feats)
        b = ref.shape[0]
        c_r, c_d = content[:b], content[b:2 * b]
        s_r, s_d = degradation[:b], degradation[b:2 * b]
        by_ref = self.masking_content == "reference"
        masked, m = self.pair_maps(c_r if by_ref else c_d, s_r, s_d)
        m_extra = None
        if extra is not None:
            k = extra.shape[0]
            c_mask = c_r[:k] if by_ref else content[2 * b:]
            m_extra = self.pair_maps(c_mask, s_r[:k], degradation[2 * b:])[1]
        return PairOutput((feats[:b], feats[b:2 * b]), (c_r, c_d), (s_r, s_d), masked, m,
                          self.regressor(m).squeeze(1) if score else None, m_extra)

    def pooled_features(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        """Pooled masked degradation features m of B pairs: B x ks."""
        return self.forward(ref, dist, score=False).features
