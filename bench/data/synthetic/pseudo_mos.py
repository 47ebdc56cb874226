"""Pseudo-MOS for the synthetic suite: an ensemble of full-reference metrics, three from
pyiqa's pure-computation metrics (no weights to download) and one colour difference
computed with scikit-image, mapped monotonically to [0, 1].

Members and the side in px each is computed at (area-downsampled from 192 px):

* ``gmsd`` (192): gradient-magnitude similarity deviation of the luma channel;
* ``nlpd`` (96): normalised Laplacian pyramid distance of the luma channel;
* ``fsim`` (64): pyiqa's FSIM in its chromatic form (FSIMc): phase congruency and
  gradient similarity of the luma channel, times a chroma (I, Q) similarity term whose
  weight is small (exponent 0.03), so it mostly sees luminance;
* ``ciede2000`` (64): the mean CIEDE2000 colour difference between the two pictures in
  CIE Lab (scikit-image's ``rgb2lab`` and ``deltaE_ciede2000``): the member that sees a
  change of hue or chroma as clearly as one of lightness. At 64 px each value is a mean
  over 3 x 3 pixels: the eye resolves colour differences more coarsely than lightness
  (the reasoning behind S-CIELAB's spatial filtering).

Each member is oriented so that higher is better, z-scored over the images labelled
together, and the members are averaged with **equal weights**: there are no human scores
here to fit weights to, and z-scoring gives each member the same spread, so each one
moves the pseudo-MOS as much as any other (colour, then, has a quarter of the say). The
mean z passes through a logistic: pseudo-MOS = 1 / (1 + exp(-1.5 z)).
Sides were chosen for CPU cost, measured on one core with batches of 8: GMSD ~550
images/s at 192 px, NLPD ~350 at 96 px (~450 at 64 px: not worth its detail), FSIM ~200
at 64 px (~90 at 96 px) and CIEDE2000 ~580 at 64 px; SSIM, MS-SSIM and VIF stay under 20
images/s at 192 px and are not used.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

# (metric name, side in px the metric is computed at)
MEMBERS: list[tuple[str, int]] = [("gmsd", 192), ("nlpd", 96), ("fsim", 64), ("ciede2000", 64)]
LOGISTIC_SLOPE = 1.5
#: The metrics a synthetic set's pseudo-MOS is made of: its "label source" (circular to
#: evaluate them, or metrics strongly correlated with them, on the set).
LABEL_SOURCE: tuple[str, ...] = tuple(name for name, _ in MEMBERS)
#: metrics computed here rather than by pyiqa
OWN_METRICS = ("ciede2000",)
_METRICS: dict = {}  # pyiqa metrics built once per process


def _resize(batch, side: int):
    import torch.nn.functional as F

    if batch.shape[-1] == side:
        return batch
    return F.interpolate(batch, size=(side, side), mode="area")


def ciede2000_mean(distorted, reference) -> np.ndarray:
    """Mean CIEDE2000 difference per image (lower is better) between N x 3 x H x W torch
    batches in [0, 1] (sRGB, D65): float64 array of N."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    d = distorted.permute(0, 2, 3, 1).double().numpy()
    r = reference.permute(0, 2, 3, 1).double().numpy()
    out = np.empty(len(d))
    ref_lab = None
    for i in range(len(d)):
        if ref_lab is None or not np.array_equal(r[i], r[i - 1]):
            ref_lab = rgb2lab(r[i])
        out[i] = float(deltaE_ciede2000(ref_lab, rgb2lab(d[i])).mean())
    return out


def _pyiqa_metric(name: str):
    if name not in _METRICS:
        import pyiqa

        from ..pyiqa_offline import offline

        with offline(f"pseudo-MOS {name}"):
            _METRICS[name] = pyiqa.create_metric(name, device="cpu")
    return _METRICS[name]


def preload() -> None:
    """Import pyiqa and build the members once in this process (a forked worker then
    inherits them instead of paying about 2 s of imports itself)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyiqa")
        for name, _ in MEMBERS:
            if name not in OWN_METRICS:
                _pyiqa_metric(name)


def member_scores(distorted: np.ndarray, reference: np.ndarray, batch: int = 8,
                  progress: Optional[Callable[[str, int, int], None]] = None) -> dict[str, np.ndarray]:
    """Raw scores of every ensemble member, oriented so that higher is better.

    distorted: N x H x W x 3 uint8; reference: N x H x W x 3 uint8 (pairs by index) or one
    H x W x 3 uint8 reference for all N. Returns {metric name: float64 array of N}.
    ``progress(name, n, N)`` is called after each batch of n images. pyiqa's warnings are
    silenced inside this call only.
    """
    import warnings

    import torch

    one_ref = reference.ndim == 3
    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyiqa")
        from ..pyiqa_offline import weights_only_loads

        for name, side in MEMBERS:
            metric = None if name in OWN_METRICS else _pyiqa_metric(name)
            vals = []
            with torch.no_grad(), weights_only_loads(f"pseudo-MOS {name}"):
                for i in range(0, len(distorted), batch):
                    d = torch.from_numpy(distorted[i:i + batch]).permute(0, 3, 1, 2).float() / 255
                    r = torch.from_numpy(reference if one_ref else reference[i:i + batch])
                    r = (r[None].expand(len(d), *r.shape) if one_ref else r).permute(0, 3, 1, 2).float() / 255
                    d, r = _resize(d, side), _resize(r, side)
                    if metric is None:
                        vals.append(-ciede2000_mean(d, r))
                    else:
                        sign = -1.0 if metric.lower_better else 1.0
                        vals.append(sign * metric(d, r).reshape(-1).double().numpy())
                    if progress is not None:
                        progress(name, len(d), len(distorted))
            out[name] = np.concatenate(vals)
    return out


def ensemble(scores: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean z-score, pseudo-MOS in [0, 1]) from oriented member scores of equal length
    (each member z-scored over these images, then averaged with equal weights)."""
    zs = []
    for name in sorted(scores):
        v = scores[name]
        sd = v.std()
        zs.append((v - v.mean()) / (sd if sd > 0 else 1.0))
    z = np.mean(zs, axis=0)
    return z, 1.0 / (1.0 + np.exp(-LOGISTIC_SLOPE * z))


def concat_scores(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Member scores of several jobs joined in order: {metric: concatenated array}."""
    return {name: np.concatenate([p[name] for p in parts]) for name in sorted(parts[0])}


def agreement(scores: dict[str, np.ndarray], mos: np.ndarray) -> dict[str, float]:
    """SROCC between the pseudo-MOS and each member (how well the ensemble agrees)."""
    from scipy.stats import spearmanr

    return {name: float(spearmanr(v, mos)[0]) for name, v in sorted(scores.items())}
