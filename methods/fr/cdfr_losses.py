"""The self-supervised objective of ``cdfr`` (a reading of the causal-disentanglement FR
paper's abstract): content invariance, independence, latent reconstruction, the
intervention on the latent, and the degradation order of a pair's own interpolation.
None of them reads a MOS; the supervised term is separate (:func:`supervised_loss`).

Every function takes maps B x channels x h x w or pooled codes B x channels and returns a
scalar tensor (mean over what it compares).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .cdfr_model import CDFRNet, PairOutput

INVARIANCES = ("infonce", "mse")


def content_invariance(c_ref: torch.Tensor, c_dist: torch.Tensor, ref_ids: torch.Tensor,
                       kind: str = "infonce", temperature: float = 0.1) -> torch.Tensor:
    """The content codes of a reference and of its distorted image must agree.

    c_ref, c_dist: B x kc pooled content codes (compared after L2 normalisation); ref_ids:
    B integer reference identities (pairs of one reference are each other's positives).
    'mse': mean squared distance of the normalised codes of each pair. 'infonce': the
    distorted code must pick its own reference's code among the batch's references,
    -log(sum over positives of exp(cos / T) / sum over all of exp(cos / T)), averaged over
    the batch; it also keeps the codes of different references apart, which 'mse' alone
    does not (a constant code satisfies it)."""
    zr, zd = F.normalize(c_ref, dim=1), F.normalize(c_dist, dim=1)
    if kind == "mse":
        return (zr - zd).pow(2).sum(dim=1).mean()
    if kind != "infonce":
        raise ValueError(f"invariance must be one of {INVARIANCES}, not {kind!r}")
    logits = zd @ zr.t() / temperature
    same = ref_ids.view(-1, 1) == ref_ids.view(1, -1)
    positive = torch.logsumexp(logits.masked_fill(~same, float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - positive).mean()


def independence(content: torch.Tensor, degradation: torch.Tensor) -> torch.Tensor:
    """Mean squared cross-correlation, over the batch, between every content dimension
    (B x kc) and every degradation dimension (B x ks): 0 when no linear trace of the
    degradation is left in the content code. Needs B >= 2 (0 otherwise)."""
    if content.shape[0] < 2:
        return content.sum() * 0.0

    def standardised(x):
        x = x - x.mean(dim=0, keepdim=True)
        return x / (x.pow(2).mean(dim=0, keepdim=True).sqrt() + 1e-6)

    corr = standardised(content).t() @ standardised(degradation) / content.shape[0]
    return corr.pow(2).mean()


def reconstruction(decode: Callable, c_ref: torch.Tensor, s_dist: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
    """Swapped latent reconstruction: the distorted image's trunk map (``target``, not
    back-propagated into) from the *reference's* content map and the distorted image's
    degradation map, mean squared error. What the reference lacks (the degradation) must
    come from S(d), and the decoder learns to invert the heads for the intervention."""
    return (decode(c_ref, s_dist) - target.detach()).pow(2).mean()


def intervention(decode: Callable, encode: Callable, content: torch.Tensor,
                 degradation: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Degradation estimation as an intervention on the latent: set the content of pair i
    to that of pair perm[i] (do(C := C[perm])), decode, re-encode, and require the
    degradation code unchanged and the content the one set:

        F_hat = decode(C[perm], S);  (C', S') = encode(F_hat)
        loss = mean (S' - S)^2 + mean (C' - C[perm])^2

    (targets not back-propagated into). content: B x kc x h x w, degradation:
    B x ks x h x w, perm: B indices."""
    c_set = content[perm]
    c_back, s_back = encode(decode(c_set, degradation))
    return (s_back - degradation.detach()).pow(2).mean() + (c_back - c_set.detach()).pow(2).mean()


def degradation_order(weaker: torch.Tensor, stronger: torch.Tensor,
                      margin: float = 0.05) -> torch.Tensor:
    """Hinge on the pooled degradation magnitude: the pair with the weaker version of the
    same degradation (B x ks features) must have a smaller norm than the stronger one by
    ``margin``: mean relu(margin + |weaker| - |stronger|)."""
    return F.relu(margin + weaker.norm(dim=1) - stronger.norm(dim=1)).mean()


def interpolated(ref: torch.Tensor, dist: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """r + alpha (d - r) per pair (alpha: B values in [0, 1], broadcast): a weaker version
    of the pair's own degradation, made from the pair alone."""
    return ref + alpha.view(-1, 1, 1, 1) * (dist - ref)


def supervised_loss(score: torch.Tensor, mos: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean l1 or squared error between B predicted scores and B MOS values in [0, 1]."""
    diff = score - mos
    return diff.abs().mean() if kind == "l1" else diff.pow(2).mean()


@dataclass
class Weights:
    """Weights of the self-supervised terms (0 switches a term off) and their knobs."""

    invariance: float = 1.0
    independence: float = 1.0
    reconstruction: float = 1.0
    intervention: float = 1.0
    order: float = 1.0
    invariance_kind: str = "infonce"
    temperature: float = 0.1
    order_margin: float = 0.05
    order_alpha: tuple = (0.25, 0.75)
    order_share: float = 1.0

    @classmethod
    def from_settings(cls, hp: dict) -> "Weights":
        """From the method's settings (w_invariance, ..., order_alpha, order_share)."""
        return cls(hp["w_invariance"], hp["w_independence"], hp["w_reconstruction"],
                   hp["w_intervention"], hp["w_order"], hp["invariance"], hp["temperature"],
                   hp["order_margin"], tuple(hp["order_alpha"]), hp["order_share"])

    def order_pairs(self, b: int) -> int:
        """How many of a batch's b pairs get the order term's interpolation (>= 1 when
        the term is on): the first ceil(order_share x b), the batch being drawn at random."""
        return 0 if not self.order else max(1, min(b, int(np.ceil(self.order_share * b))))


def draws(b: int, w: Weights, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The random parts of one self-supervised step on ``b`` pairs, from a numpy generator
    (whose state checkpoints keep): the intervention's permutation (b ints) and the
    interpolation factors of the order term (b floats uniform in ``w.order_alpha``)."""
    lo, hi = w.order_alpha
    return (torch.from_numpy(rng.permutation(b)),
            torch.from_numpy(rng.uniform(lo, hi, size=b).astype(np.float32)))


def self_supervised(model: CDFRNet, ref: torch.Tensor, dist: torch.Tensor, ref_ids: torch.Tensor,
                    w: Weights, perm: torch.Tensor, alpha: torch.Tensor,
                    score: bool = False) -> tuple[torch.Tensor, dict, PairOutput]:
    """The weighted self-supervised loss of B pairs (each B x 3 x H x W in [0, 1]; ref_ids
    B ints), its terms by name (floats) and the model's :class:`PairOutput` (with the
    regression head's scores when ``score``, for a supervised term on the same pass).

    perm (B ints) sets the intervention's content swap; alpha (B floats in [0, 1]) the
    weaker interpolations of the order term, made for the first ``w.order_pairs(B)`` pairs
    and added to the one trunk pass (:func:`draws`)."""
    dev = ref.device
    k = w.order_pairs(ref.shape[0])
    weak = interpolated(ref[:k], dist[:k], alpha[:k].to(dev)) if k else None
    out = model(ref, dist, score=score, extra=weak)
    (c_r, c_d), (_, s_d) = out.content, out.degradation
    terms: dict = {}
    if w.invariance:
        cr, cd = out.content_codes()
        terms["invariance"] = (w.invariance, content_invariance(cr, cd, ref_ids.to(dev),
                                                                  w.invariance_kind, w.temperature))
    if w.independence:
        terms["independence"] = (w.independence, independence(c_d.mean(dim=(2, 3)), out.features))
    if w.reconstruction:
        terms["reconstruction"] = (w.reconstruction, reconstruction(model.decode, c_r, s_d,
                                                                    out.feats[1]))
    if w.intervention:
        terms["intervention"] = (w.intervention, intervention(model.decode, model.encode, c_r,
                                                              s_d, perm.to(dev)))
    if w.order:
        terms["order"] = (w.order, degradation_order(out.extra_features, out.features[:k],
                                                     w.order_margin))
    total = sum((wt * v for wt, v in terms.values()), start=out.features.sum() * 0.0)
    return total, {k: float(v.detach()) for k, (_, v) in terms.items()}, out
