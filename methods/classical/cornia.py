"""CORNIA (Ye, Kumar, Kang & Doermann, CVPR 2012): soft encoding of whitened, normalised
7 x 7 patches on an unsupervised codebook, max pooling, linear SVR.

Feature of an image: the responses r = D x of its whitened patches x to the unit-norm
codewords D; soft encoding [max(r, 0), max(-r, 0)] max-pooled over the patches, i.e. the
per-codeword maximum and minus the minimum response clipped at zero: 2K values.

Deviations from the paper (CPU-sized, documented): K = SIZE = 100 codewords (paper 10,000),
a codebook fitted on the fold's own training images (paper: CSIQ images), encoding on a
dense grid with stride 4 (paper: 10,000 random patches), codewords scaled to unit norm
before encoding. A flat image has every patch zero after normalisation, so its feature is
the encoding of that one patch, the same for every grey level (finite, no fallback needed).
"""
from __future__ import annotations

import numpy as np

from .brisque import Extracted, nan_policy
from .codebook import Codebook, gray, normalised_patches, whitened

SIZE = 100


def cornia_features(cb: Codebook, images, on_nan: str = "count") -> Extracted:
    """CORNIA features of uint8 images N x H x W x 3 on codebook ``cb``: float64 N x 2K."""
    words = cb.centres / np.maximum(np.linalg.norm(cb.centres, axis=1, keepdims=True), 1e-12)
    out = []
    for y in gray(images, "cornia"):
        r = whitened(cb, normalised_patches(y)) @ words.T
        out.append(np.concatenate([np.maximum(r.max(axis=0), 0.0), np.maximum(-r.min(axis=0), 0.0)]))
    return nan_policy(np.stack(out), "cornia", on_nan)
