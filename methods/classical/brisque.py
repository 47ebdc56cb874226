"""BRISQUE features (Mittal, Moorthy & Bovik, TIP 2012): 36 natural-scene statistics of the
mean-subtracted contrast-normalised (MSCN) luminance at two scales.

Per scale (18): the GGD fit of the MSCN coefficients (shape alpha, variance sigma^2), then
for each of the four pairwise products of neighbours (horizontal, vertical, main and
secondary diagonal; circular shifts as the original ``circshift``) the AGGD fit (shape
alpha, mean eta, left variance sigma_l^2, right variance sigma_r^2). The second scale is
the image halved by MATLAB-style bicubic ``imresize`` with antialiasing.

Computed by pyiqa's own code through its API (``pyiqa.archs.brisque_arch.
natural_scene_statistics``, ``pyiqa.matlab_utils.imresize``), in float32 batches.

Deviations from the paper's release: luminance is YIQ's Y rounded to integers (pyiqa)
rather than MATLAB's ``rgb2gray``; the GGD/AGGD shapes are looked up on pyiqa's 0.001 grid
in [0.2, 10]; computation in float32 (3-4x faster than float64; features agree to ~1e-5).
A flat image (constant luminance) has no MSCN statistics: its row is NaN and counted
(``Extracted.n_fallback``), or a FeatureError when ``on_nan="error"``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .images import FeatureError, check_images, flat_images, luma

N_FEATURES = 36
MIN_SIZE = 16        # the second scale must hold the 7 x 7 window with room to spare
WINDOW, SIGMA = 7, 7.0 / 6.0
BATCH = 32


@dataclass(frozen=True)
class Extracted:
    """Features of N images: ``values`` float64 N x F (NaN rows for images that took the
    documented fallback), ``n_fallback`` how many rows are NaN."""

    values: np.ndarray
    n_fallback: int


def nan_policy(values: np.ndarray, name: str, on_nan: str) -> Extracted:
    """Turn rows with any non-finite value into NaN rows and count them, or raise a
    FeatureError naming the first images when ``on_nan == "error"``."""
    if on_nan not in ("count", "error"):
        raise ValueError(f"on_nan must be 'count' or 'error', not {on_nan!r}")
    bad = ~np.all(np.isfinite(values), axis=1)
    if bad.any() and on_nan == "error":
        first = ", ".join(str(i) for i in np.flatnonzero(bad)[:5])
        raise FeatureError(f"{name}: no features for {int(bad.sum())} image(s) (first: {first}); "
                           "flat or featureless images; drop them or use on_nan='count'")
    values = values.copy()
    values[bad] = np.nan
    return Extracted(values, int(bad.sum()))


def _scale_features(y: torch.Tensor) -> torch.Tensor:
    """18 statistics per image of luminance y (B x 1 x H x W, float32 in [0, 255])."""
    from pyiqa.archs.brisque_arch import natural_scene_statistics

    return natural_scene_statistics(y, WINDOW, SIGMA).reshape(y.shape[0], -1)


def brisque_features(images, on_nan: str = "count") -> Extracted:
    """BRISQUE features of uint8 images N x H x W x 3 (H, W >= 16): float64 N x 36, NaN rows
    for flat images (counted), see the module docstring."""
    from pyiqa.matlab_utils import imresize

    arr = check_images(images, "brisque", MIN_SIZE)
    out = np.full((arr.shape[0], N_FEATURES), np.nan)
    with torch.no_grad():
        for a in range(0, arr.shape[0], BATCH):
            y = luma(arr[a:a + BATCH])
            keep = ~flat_images(y)
            if not keep.any():
                continue
            y = y[torch.from_numpy(keep)].to(torch.float32)
            half = imresize(y, scale=0.5, antialiasing=True)
            feats = torch.cat([_scale_features(y), _scale_features(half)], dim=1)
            out[a:a + len(keep)][keep] = feats.double().numpy()
    return nan_policy(out, "brisque", on_nan)
