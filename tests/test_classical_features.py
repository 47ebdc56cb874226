"""Classical NR features: BRISQUE against a direct NumPy computation, NIQE's distance
ordering, CORNIA/HOSA codebooks (determinism, the encodings' formulas), NaN fallbacks."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, optimize, special

from bench.methods.classical import api
from bench.methods.classical.codebook import normalised_patches
from bench.methods.classical.cornia import cornia_features
from bench.methods.classical.hosa import aggregate
from bench.methods.classical.images import FeatureError, luma

SCENES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry")


def scenes(size: int, names=SCENES) -> np.ndarray:
    """skimage.data pictures as uint8 N x size x size x 3."""
    from skimage import color, data, transform, util

    out = []
    for name in names:
        im = getattr(data, name)()
        im = color.gray2rgb(im) if im.ndim == 2 else im[..., :3]
        out.append(util.img_as_ubyte(transform.resize(im, (size, size), anti_aliasing=True)))
    return np.stack(out)


# --- a direct NumPy computation of BRISQUE's statistics (Mittal et al. 2012, Eqs. 1-8) ---

def np_mscn(y: np.ndarray) -> np.ndarray:
    r = np.arange(7) - 3
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (7 / 6) ** 2))
    w /= w.sum()
    mu = ndimage.correlate(y, w, mode="constant", cval=0.0)
    sd = np.sqrt(np.abs(ndimage.correlate(y * y, w, mode="constant", cval=0.0) - mu * mu))
    return (y - mu) / (sd + 1.0)


def _solve(target: float, ratio) -> float:
    return optimize.brentq(lambda a: ratio(a) - target, 0.2, 10.0)


def np_ggd(x: np.ndarray) -> tuple[float, float]:
    rho = np.mean(x * x) / np.mean(np.abs(x)) ** 2
    ratio = lambda a: np.exp(special.gammaln(1 / a) + special.gammaln(3 / a) - 2 * special.gammaln(2 / a))
    return _solve(rho, ratio), float(np.mean(x * x))


def np_aggd(x: np.ndarray) -> list[float]:
    left, right = np.sqrt(np.mean(x[x < 0] ** 2)), np.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x * x)
    target = rhat * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    ratio = lambda a: np.exp(2 * special.gammaln(2 / a) - special.gammaln(1 / a) - special.gammaln(3 / a))
    a = _solve(target, ratio)
    eta = (right - left) * np.exp(special.gammaln(2 / a) - 0.5 * (special.gammaln(1 / a) + special.gammaln(3 / a)))
    return [a, eta, left ** 2, right ** 2]


def np_brisque_scale(y: np.ndarray) -> np.ndarray:
    m = np_mscn(y)
    out = list(np_ggd(m))
    for shift in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        out += np_aggd(m * np.roll(m, shift, axis=(0, 1)))
    return np.array(out)


def _assert_close(ours: np.ndarray, ref: np.ndarray) -> None:
    shapes = np.zeros(18, bool)
    shapes[[0, 2, 6, 10, 14]] = True      # GGD/AGGD shapes: pyiqa looks them up on a 0.001 grid
    np.testing.assert_allclose(ours[shapes], ref[shapes], atol=2e-3)
    np.testing.assert_allclose(ours[~shapes], ref[~shapes], rtol=2e-3, atol=2e-5)


def test_brisque_matches_direct_numpy_statistics():
    from pyiqa.matlab_utils import imresize

    images = scenes(72, SCENES[:3])
    feats = api.extract("brisque", images)
    assert feats.values.shape == (3, 36) and feats.n_fallback == 0
    for i in range(3):
        y = luma(images[i:i + 1]).float()
        _assert_close(feats.values[i, :18], np_brisque_scale(y[0, 0].double().numpy()))
        half = imresize(y, scale=0.5, antialiasing=True)
        _assert_close(feats.values[i, 18:], np_brisque_scale(half[0, 0].double().numpy()))
    assert not np.allclose(feats.values[0], feats.values[1])


def test_brisque_flat_image_is_a_counted_nan_row_or_an_error():
    images = scenes(48, SCENES[:2])
    batch = np.concatenate([images[:1], np.full_like(images[:1], 90), images[1:]])
    feats = api.extract("brisque", batch)
    assert feats.n_fallback == 1
    assert np.isnan(feats.values[1]).all() and np.isfinite(feats.values[[0, 2]]).all()
    np.testing.assert_allclose(feats.values[0], api.extract("brisque", images[:1]).values[0])
    with pytest.raises(FeatureError, match="brisque: no features for 1 image"):
        api.extract("brisque", batch, on_nan="error")


@pytest.mark.parametrize("name", ["brisque", "cornia"])
def test_tiny_or_malformed_images_are_clear_errors(name):
    cb = api.fit_codebook("cornia", scenes(32, SCENES[:2]), seed=0) if name == "cornia" else None
    with pytest.raises(FeatureError, match="under the 16 px"):
        api.extract(name, np.zeros((1, 8, 8, 3), np.uint8), codebook=cb)
    with pytest.raises(FeatureError, match="uint8 N x H x W x 3"):
        api.extract(name, np.zeros((1, 32, 32), np.float32), codebook=cb)


@pytest.mark.slow
def test_niqe_blurred_images_are_farther_from_the_pristine_model():
    images = scenes(192)
    model = api.fit_pristine(images[:8])
    assert model.n_patches > 36 and model.n_images == 8
    sharp = images[[0, 5, 8, 9]]               # two fitted, two held-out pictures
    blurred = np.stack([ndimage.gaussian_filter(im, (2.0, 2.0, 0)) for im in sharp])
    s, b = api.score(model, sharp), api.score(model, blurred)
    assert s.n_fallback == 0 and b.n_fallback == 0
    assert np.all(s.values[:, 0] > b.values[:, 0])   # higher = better: minus the distance
    flat = api.score(model, np.concatenate([sharp[:2], np.full_like(sharp[:1], 77)]))
    assert flat.n_fallback == 1
    assert flat.values[2, 0] == flat.values[:2, 0].min()     # rated as the batch's worst
    with pytest.raises(FeatureError, match="niqe"):
        api.score(model, np.full_like(sharp[:2], 77), on_nan="count")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cornia", "hosa"])
def test_codebook_features_are_deterministic_given_the_seed(name):
    train, test = scenes(48, SCENES[:4]), scenes(48, SCENES[4:6])
    a = api.extract(name, test, codebook=api.fit_codebook(name, train, seed=3))
    b = api.extract(name, test, codebook=api.fit_codebook(name, train, seed=3))
    c = api.extract(name, test, codebook=api.fit_codebook(name, train, seed=4))
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    assert a.n_fallback == 0 and np.isfinite(a.values).all()
    width = {"cornia": 2 * 100, "hosa": 3 * 32 * 49}[name]
    assert a.values.shape == (2, width)


@pytest.mark.slow
def test_cornia_is_max_and_min_response_over_patches():
    """Against a direct loop over every 7 x 7 patch of the encoding grid."""
    train = scenes(40, SCENES[:3])
    cb = api.fit_codebook("cornia", train, seed=0)
    image = scenes(40, SCENES[3:4])
    y = luma(image)[0, 0].numpy()
    words = cb.centres / np.linalg.norm(cb.centres, axis=1, keepdims=True)
    hi, lo = np.full(len(words), -np.inf), np.full(len(words), np.inf)
    for r in range(0, y.shape[0] - 6, 4):
        for c in range(0, y.shape[1] - 6, 4):
            p = y[r:r + 7, c:c + 7].reshape(-1)
            p = (p - p.mean()) / np.sqrt(p.var() + 10.0)
            resp = words @ ((p - cb.mean) @ cb.whiten)
            hi, lo = np.maximum(hi, resp), np.minimum(lo, resp)
    want = np.concatenate([np.maximum(hi, 0), np.maximum(-lo, 0)])
    np.testing.assert_allclose(cornia_features(cb, image).values[0], want, rtol=1e-10, atol=1e-10)


def test_hosa_statistics_of_patches_at_one_codeword():
    """Patches spread around codeword 0 only: the first-order difference is their mean minus
    the codeword, the second their variance minus the cluster's, others zero."""
    cb = api.fit_codebook("hosa", scenes(40, SCENES[:3]), seed=0)
    rng = np.random.default_rng(0)
    x = cb.centres[0] + 1e-3 * rng.normal(size=(500, cb.centres.shape[1]))
    from dataclasses import replace
    sharp = replace(cb, bandwidth=1e-9)          # hard assignment
    v = aggregate(sharp, x).reshape(len(cb.centres), 3, -1)
    raw = np.stack([x.mean(axis=0) - cb.centres[0], x.var(axis=0) - cb.variance[0]])
    signed = np.sign(raw) * np.sqrt(np.abs(raw))
    ratio = v[0, :2] / signed
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-6)   # same up to the L2 norm
    assert np.all(v[1:] == 0)


@pytest.mark.slow
def test_flat_image_codebook_features_are_finite_not_fallbacks():
    cb = api.fit_codebook("cornia", scenes(32, SCENES[:2]), seed=0)
    grey = np.stack([np.full((32, 32, 3), v, np.uint8) for v in (0, 60, 255)])
    feats = api.extract("cornia", grey, codebook=cb)
    assert feats.n_fallback == 0 and np.isfinite(feats.values).all()
    np.testing.assert_allclose(feats.values[1:], feats.values[[0, 0]])   # level-free
    hosa = api.extract("hosa", grey, codebook=api.fit_codebook("hosa", scenes(32, SCENES[:2]), 0))
    assert hosa.n_fallback == 0 and np.isfinite(hosa.values).all()


def test_codebook_methods_need_a_codebook():
    with pytest.raises(ValueError, match="needs a codebook"):
        api.extract("hosa", scenes(32, SCENES[:1]))
    patches = normalised_patches(np.zeros((20, 20)))
    assert np.all(patches == 0) and patches.shape == (16, 49)   # 20 px, 7 px patches, stride 4
