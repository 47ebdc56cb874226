"""BLIINDS-II (Saad, Bovik & Charrier, TIP 2012): natural-scene statistics of local DCT
coefficients, 4 features x 2 poolings x 3 scales = 24 values, RBF SVR.

Per 5 x 5 block (blocks overlap by one pixel: stride 4) of the luminance, from its 24 AC
DCT coefficients (type II, orthonormal):

1. GGD shape gamma of the AC coefficients (moment matching, as BRISQUE's GGD fit);
2. coefficient of frequency variation zeta = std(|X|) / mean(|X|);
3. energy sub-band ratio: the AC coefficients split into three radial bands by u + v
   (1-2, 3-4, 5-8); with E_n the variance of band n, R_n = |E_n - mean(E_<n)| /
   (E_n + mean(E_<n)) for n = 2, 3; the block's value is the mean of R_2 and R_3;
4. orientation: the AC coefficients split into three bands by angle atan2(u, v) (< 30,
   30-60, > 60 degrees); the block's value is the variance over the bands of their zeta.

Pooling over the blocks of a scale: the mean of all blocks and the mean of the lowest 10 %
(gamma) or highest 10 % (the three others) = 8 values per scale; scales: the image, then
halved twice by pyiqa's MATLAB-style bicubic ``imresize`` with antialiasing.

Deviations from the paper (our reading, documented): the paper low-pass filters with a
Gaussian before subsampling (here: antialiased bicubic); band and orientation partitions
of the 5 x 5 block are read from the paper's figure as above; blocks whose AC coefficients
are all zero (flat regions) have no statistics and are left out of the pooling; an image
with no such block at some scale (a flat image) gets a NaN row, counted in
``Extracted.n_fallback`` (FeatureError with ``on_nan="error"``); the regressor is an RBF SVR
(the paper's released model is a probabilistic multivariate-GGD predictor).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import fft, special

from .brisque import Extracted, nan_policy
from .images import check_images, luma

BLOCK, STRIDE = 5, 4
MIN_SIZE = 40           # the third scale (a quarter) must hold a few 5 x 5 blocks
N_FEATURES = 24
_U, _V = np.meshgrid(np.arange(BLOCK), np.arange(BLOCK), indexing="ij")
_AC = (_U + _V) > 0
_RADIAL = [((_U + _V) >= lo) & ((_U + _V) <= hi) for lo, hi in ((1, 2), (3, 4), (5, 8))]
_ANGLE = np.degrees(np.arctan2(_U, _V))
_ORIENT = [_AC & (_ANGLE < 30), _AC & (_ANGLE >= 30) & (_ANGLE <= 60), _AC & (_ANGLE > 60)]
_SHAPES = np.arange(0.2, 10.0, 0.001)
_RATIO = np.exp(special.gammaln(1 / _SHAPES) + special.gammaln(3 / _SHAPES)
                - 2 * special.gammaln(2 / _SHAPES))          # decreasing in the shape


def _blocks(y: np.ndarray) -> np.ndarray:
    """DCT of the 5 x 5 blocks of one luminance image y (H x W): B x 5 x 5."""
    win = np.lib.stride_tricks.sliding_window_view(y, (BLOCK, BLOCK))[::STRIDE, ::STRIDE]
    return fft.dctn(win.reshape(-1, BLOCK, BLOCK), type=2, norm="ortho", axes=(1, 2))


def _zeta(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a.std(axis=1) / a.mean(axis=1)


def block_statistics(d: np.ndarray) -> np.ndarray:
    """Per-block (gamma, zeta, sub-band ratio, orientation variance): B x 4 of DCT blocks
    d (B x 5 x 5); rows with all AC coefficients zero are dropped."""
    d = d[np.any(d[:, _AC] != 0, axis=1)]
    ac = d[:, _AC]
    rho = (ac * ac).mean(axis=1) / np.abs(ac).mean(axis=1) ** 2
    gamma = np.interp(rho, _RATIO[::-1], _SHAPES[::-1])
    energy = np.stack([d[:, band].var(axis=1) for band in _RADIAL], axis=1)
    ratios = []
    for n in (1, 2):
        below = energy[:, :n].mean(axis=1)
        total = energy[:, n] + below
        ratios.append(np.where(total > 0, np.abs(energy[:, n] - below) / np.where(total > 0, total, 1), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        orient = np.stack([_zeta(d[:, band]) for band in _ORIENT], axis=1)
    orient = np.nan_to_num(orient, nan=0.0).var(axis=1)  # a band of zeros has no variation
    return np.stack([gamma, _zeta(ac), np.mean(ratios, axis=0), orient], axis=1)


def _pool(stats: np.ndarray) -> np.ndarray:
    """8 values: per statistic, the 10 % tail mean (lowest for gamma, highest otherwise)
    then the mean over all blocks; NaN when there is no block."""
    if len(stats) == 0:
        return np.full(8, np.nan)
    out = []
    for j in range(4):
        v = np.sort(stats[:, j])
        k = max(1, int(np.ceil(0.1 * len(v))))
        out += [(v[:k] if j == 0 else v[-k:]).mean(), v.mean()]
    return np.array(out)


def bliinds2_features(images, on_nan: str = "count") -> Extracted:
    """BLIINDS-II features of uint8 images N x H x W x 3 (H, W >= 40): float64 N x 24, NaN
    rows (counted) for images without any non-flat block at some scale."""
    from pyiqa.matlab_utils import imresize

    arr = check_images(images, "bliinds2", MIN_SIZE)
    out = np.empty((arr.shape[0], N_FEATURES))
    with torch.no_grad():
        y = luma(arr).float()
        scales = [y]
        for _ in range(2):
            scales.append(imresize(scales[-1], scale=0.5, antialiasing=True))
    for i in range(arr.shape[0]):
        out[i] = np.concatenate([_pool(block_statistics(_blocks(s[i, 0].double().numpy())))
                                 for s in scales])
    return nan_policy(out, "bliinds2", on_nan)
