"""BLIINDS-II: block statistics against a direct computation (explicit DCT matrix,
root-found GGD shape), pooling, blur response and the flat-image fallback."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, optimize, special

from bench.methods.classical import api
from bench.methods.classical.bliinds2 import _blocks, block_statistics
from bench.methods.classical.images import FeatureError


def _dct_matrix(n: int) -> np.ndarray:
    k, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    c = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    c[0] /= np.sqrt(2.0)
    return c


def _direct(block: np.ndarray) -> list[float]:
    c = _dct_matrix(5)
    d = c @ block @ c.T
    u, v = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    ac = d[(u + v) > 0]
    rho = np.mean(ac ** 2) / np.mean(np.abs(ac)) ** 2
    ratio = lambda g: np.exp(special.gammaln(1 / g) + special.gammaln(3 / g) - 2 * special.gammaln(2 / g)) - rho
    gamma = optimize.brentq(ratio, 0.2, 9.99)
    zeta = lambda x: np.std(np.abs(x)) / np.mean(np.abs(x))
    e = [np.var(d[((u + v) >= lo) & ((u + v) <= hi)]) for lo, hi in ((1, 2), (3, 4), (5, 8))]
    r = [abs(e[1] - e[0]) / (e[1] + e[0]), abs(e[2] - (e[0] + e[1]) / 2) / (e[2] + (e[0] + e[1]) / 2)]
    ang = np.degrees(np.arctan2(u, v))
    ac_mask = (u + v) > 0
    bands = [ac_mask & (ang < 30), ac_mask & (ang >= 30) & (ang <= 60), ac_mask & (ang > 60)]
    return [gamma, zeta(ac), np.mean(r), np.var([zeta(d[b]) for b in bands])]


def test_block_statistics_match_a_direct_computation():
    rng = np.random.default_rng(0)
    y = ndimage.gaussian_filter(rng.uniform(0, 255, (13, 13)), 0.7)
    ours = block_statistics(_blocks(y))
    assert ours.shape == (9, 4)                       # 3 x 3 blocks, stride 4
    for i, (r, c) in enumerate([(r, c) for r in (0, 4, 8) for c in (0, 4, 8)]):
        want = _direct(y[r:r + 5, c:c + 5])
        np.testing.assert_allclose(ours[i, 0], want[0], atol=2e-3)  # shape on a 0.001 grid
        np.testing.assert_allclose(ours[i, 1:], want[1:], rtol=1e-9)


def test_blur_raises_zeta_and_flat_image_is_a_counted_fallback():
    from skimage import data, transform, util

    im = util.img_as_ubyte(transform.resize(data.astronaut(), (96, 96), anti_aliasing=True))
    blurred = ndimage.gaussian_filter(im, (2.0, 2.0, 0))
    f = api.extract("bliinds2", np.stack([im, blurred, np.full_like(im, 128)]))
    assert f.values.shape == (3, 24) and f.n_fallback == 1 and np.isnan(f.values[2]).all()
    assert f.values[1, 3] > f.values[0, 3]           # mean zeta, first scale
    with pytest.raises(FeatureError, match="bliinds2"):
        api.extract("bliinds2", np.full((1, 48, 48, 3), 5, np.uint8), on_nan="error")
    with pytest.raises(FeatureError, match="under the 40 px"):
        api.extract("bliinds2", np.zeros((1, 32, 32, 3), np.uint8))
