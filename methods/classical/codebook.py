"""Unsupervised patch codebooks shared by CORNIA and HOSA: normalised 7 x 7 luminance
patches, ZCA whitening and k-means, all fitted on training images only.

Patches: luminance (YIQ's Y in [0, 255]); each patch is made zero-mean and divided by
sqrt(variance + 10), CORNIA's divisive normalisation (the constant keeps flat patches at
zero instead of amplifying noise). Whitening: ZCA fitted on the training patches,
W = U (L + 0.1)^-1/2 U^T. Codebook: scikit-learn KMeans (one initialisation, seeded) on up
to MAX_TRAIN_PATCHES whitened patches drawn at random (seeded) from the training images.
Encoding-time patches lie on a dense grid with stride STRIDE (deterministic, no sampling).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .images import check_images, luma

PATCH = 7
STRIDE = 4
NORM_CONSTANT = 10.0
ZCA_EPSILON = 0.1
MAX_TRAIN_PATCHES = 10000
MIN_SIZE = 16
KMEANS_ITERATIONS = 50


@dataclass(frozen=True)
class Codebook:
    """A fitted codebook: ``mean`` (49) and ``whiten`` (49 x 49) of the ZCA transform,
    ``centres`` K x 49 in whitened space, per-cluster statistics of the training patches
    hard-assigned to each centre (``variance`` and ``skewness``, K x 49, for HOSA),
    ``bandwidth`` (mean squared distance of a training patch to its nearest centre), the
    ``seed`` and the number of training patches ``n_patches``."""

    mean: np.ndarray
    whiten: np.ndarray
    centres: np.ndarray
    variance: np.ndarray
    skewness: np.ndarray
    bandwidth: float
    seed: int
    n_patches: int


def gray(images, name: str) -> np.ndarray:
    """Luminance float64 N x H x W in [0, 255] of uint8 images N x H x W x 3 (H, W >= 16)."""
    arr = check_images(images, name, MIN_SIZE)
    return luma(arr)[:, 0].numpy()


def normalised_patches(y: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """All 7 x 7 patches of one luminance image y (H x W) on a grid with ``stride``, each
    zero-mean and divided by sqrt(variance + 10): float64 P x 49."""
    win = np.lib.stride_tricks.sliding_window_view(y, (PATCH, PATCH))[::stride, ::stride]
    x = win.reshape(-1, PATCH * PATCH)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.sqrt(x.var(axis=1, keepdims=True) + NORM_CONSTANT)


def whitened(cb: Codebook, x: np.ndarray) -> np.ndarray:
    """Normalised patches P x 49 through the codebook's ZCA transform: P x 49."""
    return (x - cb.mean) @ cb.whiten


def sq_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances P x K between rows of x (P x D) and centres (K x D)."""
    d2 = (x * x).sum(axis=1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(axis=1)
    return np.maximum(d2, 0.0)


def _cluster_stats(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster variance and skewness (K x D) of whitened patches x with hard labels;
    zero for clusters with fewer than two patches."""
    var = np.zeros((k, x.shape[1]))
    skew = np.zeros((k, x.shape[1]))
    for c in range(k):
        members = x[labels == c]
        if len(members) < 2:
            continue
        d = members - members.mean(axis=0)
        var[c] = (d ** 2).mean(axis=0)
        skew[c] = (d ** 3).mean(axis=0) / np.maximum(var[c], 1e-12) ** 1.5
    return var, skew


def fit_codebook(images, size: int, seed: int, name: str = "codebook") -> Codebook:
    """Fit a ``size``-word codebook on uint8 training images N x H x W x 3 (patches drawn
    with ``seed``; the same images and seed give the same codebook)."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    ys = gray(images, name)
    rng = np.random.default_rng(seed)
    per_image = max(1, MAX_TRAIN_PATCHES // len(ys))
    parts = []
    for y in ys:
        x = normalised_patches(y, stride=1)
        parts.append(x[rng.choice(len(x), size=min(per_image, len(x)), replace=False)])
    x = np.concatenate(parts)
    mean = x.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    whiten = evecs @ np.diag(1.0 / np.sqrt(np.maximum(evals, 0.0) + ZCA_EPSILON)) @ evecs.T
    xw = (x - mean) @ whiten
    with threadpool_limits(1):  # one thread: faster than two on a shared 2-core machine
        km = KMeans(n_clusters=size, n_init=1, random_state=seed,
                    max_iter=KMEANS_ITERATIONS).fit(xw)
    centres = km.cluster_centers_
    d2 = sq_distances(xw, centres).min(axis=1)
    var, skew = _cluster_stats(xw, km.labels_, size)
    return Codebook(mean, whiten, centres, var, skew, float(d2.mean()), seed, len(x))
