"""NIQE (Mittal, Soundararajan & Bovik, IEEE SPL 2013), opinion-unaware: a multivariate
Gaussian (MVG) of 36 natural-scene statistics fitted on the sharp patches of pristine
images; an image's quality is the distance of its own patches' MVG to that model.

Per patch: at two scales (the patch, then the image halved by MATLAB-style bicubic
``imresize``), the AGGD fit of the MSCN coefficients (shape, mean of the two scales) and
the AGGD fits of the four neighbour products (shape, mean, left and right scale) = 18 x 2.
Features and the distance sqrt((mu1 - mu2)^T ((S1 + S2) / 2)^+ (mu1 - mu2)) are pyiqa's own
code through its API (``pyiqa.archs.niqe_arch.compute_feature`` and ``niqe``,
``pyiqa.matlab_utils.blockproc``, ``normalize_img_with_gauss``, ``imresize``, ``imfilter``).

The pristine model is fitted here, on the images given (in the harness: the fold's training
references), never downloaded: patches whose sharpness (the sum of the local standard
deviation field over the patch) is at least SHARPNESS x the image's sharpest patch are kept,
as in the paper.

Orientation: :func:`niqe_distance` is lower-is-better (the paper's NIQE);
:func:`niqe_scores` returns minus the distance, so higher = better like every prediction.

Deviations from the paper: patches are PATCH = 32 px (the paper's 96 px would give at most
4 patches on the harness's <= 256 px images; the second scale uses 16 px blocks); the
pristine corpus is the fold's training references, not the paper's 125 photographs;
luminance is YIQ's Y rounded (pyiqa). Patches whose statistics are not finite (flat
patches) are left out of the pristine fit and counted (``PristineModel.n_dropped``); an image
with no finite patch takes the documented fallback of :func:`niqe_scores`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .brisque import Extracted
from .images import FeatureError, check_images, flat_images, luma

PATCH = 32
SHARPNESS = 0.75
WINDOW, SIGMA = 7, 7.0 / 6.0
BATCH = 32


@dataclass(frozen=True)
class PristineModel:
    """The pristine MVG: ``mean`` float64 36, ``cov`` float64 36 x 36, fitted on
    ``n_patches`` sharp patches of ``n_images`` images (``n_dropped`` non-finite patches
    left out), with patches of ``patch`` px."""

    mean: np.ndarray
    cov: np.ndarray
    patch: int
    n_patches: int
    n_images: int
    n_dropped: int


def _crop(y: torch.Tensor, patch: int) -> torch.Tensor:
    h, w = (y.shape[2] // patch) * patch, (y.shape[3] // patch) * patch
    return y[..., :h, :w]


def patch_features(y: torch.Tensor, patch: int = PATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """(features B x P x 36, sharpness B x P) of the P = (H // patch) (W // patch) patches of
    luminance y (B x 1 x H x W, float in [0, 255])."""
    from pyiqa.archs.func_util import normalize_img_with_gauss
    from pyiqa.archs.niqe_arch import compute_feature
    from pyiqa.matlab_utils import blockproc, fspecial, imfilter, imresize

    y = _crop(y, patch)
    window = fspecial(WINDOW, SIGMA, 1).to(y)
    mu = imfilter(y, window, padding="replicate")
    sigma = (imfilter(y * y, window, padding="replicate") - mu * mu).abs().sqrt()
    sharp = blockproc(sigma, [patch, patch], fun=lambda b, _: b.sum(dim=(1, 2, 3))[:, None])
    feats = [blockproc(normalize_img_with_gauss(y, padding="replicate"), [patch, patch],
                       fun=compute_feature)]
    half = imresize(y / 255.0, scale=0.5, antialiasing=True) * 255.0
    feats.append(blockproc(normalize_img_with_gauss(half, padding="replicate"),
                           [patch // 2, patch // 2], fun=compute_feature))
    return torch.cat(feats, dim=-1), sharp[..., 0]


def fit_pristine(images, patch: int = PATCH, sharpness: float = SHARPNESS) -> PristineModel:
    """Fit the pristine MVG on the sharp patches of uint8 images N x H x W x 3 (H, W >=
    2 x ``patch``); FeatureError when fewer than 37 finite sharp patches remain."""
    arr = check_images(images, "niqe", 2 * patch)
    rows, dropped = [], 0
    with torch.no_grad():
        for a in range(0, arr.shape[0], BATCH):
            feats, sharp = patch_features(luma(arr[a:a + BATCH]).float(), patch)
            keep = sharp >= sharpness * sharp.amax(dim=1, keepdim=True)
            keep &= sharp > 0  # a flat image has no sharp patch at all
            chosen = feats[keep].double().numpy()
            finite = np.all(np.isfinite(chosen), axis=1)
            dropped += int((~finite).sum())
            rows.append(chosen[finite])
    x = np.concatenate(rows)
    if x.shape[0] <= x.shape[1]:
        raise FeatureError(f"niqe: only {x.shape[0]} sharp patches in {arr.shape[0]} pristine "
                           f"images, need more than {x.shape[1]}; give more or larger images")
    return PristineModel(x.mean(axis=0), np.cov(x, rowvar=False), patch, x.shape[0],
                         arr.shape[0], dropped)


def _distance(y: torch.Tensor, model: PristineModel) -> np.ndarray:
    """pyiqa's NIQE distance of luminance batch y (B x 1 x H x W) to ``model``: float64 B;
    an image whose patch statistics cannot form a covariance gets NaN."""
    from pyiqa.archs.niqe_arch import niqe

    mu, cov = torch.from_numpy(model.mean), torch.from_numpy(model.cov)
    b = y.shape[0]
    try:
        d = niqe(y, mu.repeat(b, 1), cov.repeat(b, 1, 1), model.patch, model.patch)
        return d.double().reshape(-1).numpy()
    except torch.linalg.LinAlgError:  # some image has no finite patch: find which, one by one
        if b == 1:
            return np.array([np.nan])
        return np.concatenate([_distance(y[i:i + 1], model) for i in range(b)])


def niqe_distance(model: PristineModel, images) -> np.ndarray:
    """NIQE distance (lower = better) of uint8 images N x H x W x 3 to ``model``: float64 N,
    NaN for an image without finite patch statistics (e.g. a flat image)."""
    arr = check_images(images, "niqe", 2 * model.patch)
    out = np.full(arr.shape[0], np.nan)
    with torch.no_grad():
        for a in range(0, arr.shape[0], BATCH):
            y = luma(arr[a:a + BATCH]).float()
            keep = ~flat_images(y)
            if keep.any():
                out[a:a + y.shape[0]][keep] = _distance(y[torch.from_numpy(keep)], model)
    return out


def niqe_scores(model: PristineModel, images, on_nan: str = "count") -> Extracted:
    """Quality predictions (higher = better: minus the NIQE distance), ``values`` float64
    N x 1. Fallback, counted in ``n_fallback``: an image with no finite patch (a flat image)
    is rated like the worst image of the batch (the largest finite distance); FeatureError
    when ``on_nan == "error"`` or when no image of the batch has a finite distance."""
    from .brisque import nan_policy

    d = niqe_distance(model, images)
    checked = nan_policy(d[:, None], "niqe", on_nan)
    if checked.n_fallback == d.size:
        raise FeatureError(f"niqe: none of the {d.size} images has a finite NIQE distance")
    d = np.where(np.isfinite(d), d, np.nanmax(d))
    return Extracted(-d[:, None], checked.n_fallback)
