"""Behavioural tests of the 25 KADID-10k distortions and the multi-level Otsu DP.

The test image is a native-resolution 128x128 crop of scikit-image's astronaut (shipped
with the package), distorted at scale 1.0 so the level parameters are KADID's own.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage import color, data

from bench.data.synthetic.distortions import KADID_LEVELS, distort, to_uint8
from bench.data.synthetic.otsu import multiotsu_from_histogram, multiotsu_thresholds

ALL_TYPES = list(range(1, 26))
RANDOM_TYPES = [3, 5, 11, 12, 13, 14, 15, 19, 20, 23]
DETERMINISTIC_TYPES = [t for t in ALL_TYPES if t not in RANDOM_TYPES]
# Types whose level-to-level change is judged by another measure than PSNR to the
# reference; each has its own test below saying why.
SPECIAL_ORDER = {18, 20, 21, 23, 25}


@pytest.fixture(scope="module")
def ref() -> np.ndarray:
    crop = data.astronaut()[30:158, 180:308].astype(np.float64)
    return (crop - crop.min()) / (crop.max() - crop.min())


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return np.inf if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _psnrs(ref, type_id, seed=0, reference=None):
    target = ref if reference is None else reference
    return [
        _psnr(target, distort(ref, type_id, lv, np.random.default_rng(seed))) for lv in range(1, 6)
    ]


def _strictly_decreasing(xs) -> bool:
    return all(a > b for a, b in itertools.pairwise(xs))


# ------------------------------------------------------------------ severity order


@pytest.mark.parametrize("type_id", [t for t in ALL_TYPES if t not in SPECIAL_ORDER])
def test_psnr_falls_as_level_rises(ref, type_id):
    # The same seed at every level: noise fields, angles and shift directions are shared,
    # so only the level parameter changes.
    psnrs = _psnrs(ref, type_id)
    assert _strictly_decreasing(psnrs), f"type {type_id}: PSNR by level {np.round(psnrs, 2)}"


def test_mean_shift_orders_by_magnitude(ref):
    # Levels run +0.15, +0.08, 0, -0.08, -0.15: order by |A|, L3 is the identity.
    p = _psnrs(ref, 18)
    assert p[2] == np.inf
    assert min(p[1], p[3]) > max(p[0], p[4])


def test_contrast_change_departs_from_neutral_curve_with_magnitude(ref):
    # L3 (A = 0) is already an S-curve, and A = -0.4 bends it back through the identity,
    # so PSNR to the reference is not ordered by |A| (L3 and L4 tie exactly). The spline
    # is linear in A, so the distance from the A = 0 output grows with |A|: measure that.
    neutral = distort(ref, 25, 3, np.random.default_rng(0))
    p = _psnrs(ref, 25, reference=neutral)
    by_magnitude = [p[i] for i in np.argsort([abs(a) for a in KADID_LEVELS[25]], kind="stable")]
    assert by_magnitude[0] == np.inf
    assert _strictly_decreasing(by_magnitude), np.round(by_magnitude, 2)
    assert _psnr(ref, neutral) < 40.0  # and L3 is not the identity


@pytest.mark.parametrize("type_id", [20, 23])
def test_patch_and_block_damage_grows_on_average(ref, type_id):
    # One draw may be out of order: a later patch or block can land on an earlier one
    # with content closer to the reference. The expected damage grows with the count of
    # patches/blocks, so compare PSNR averaged over seeds.
    mean = np.mean([_psnrs(ref, type_id, seed) for seed in range(6)], axis=0)
    assert _strictly_decreasing(mean), np.round(mean, 2)


def _runs(x: np.ndarray, axis: int) -> int:
    """Number of runs of identical consecutive rows (axis 0) or columns (axis 1)."""
    return 1 + int(np.any(np.diff(x, axis=axis) != 0, axis=tuple({0, 1, 2} - {axis})).sum())


def test_pixelate_resolution_falls_as_level_rises(ref):
    # Nearest-neighbour down and up resizing displaces rows by a pattern that depends on
    # the ratio's arithmetic, not monotonically on it (at any image size), so PSNR is not
    # ordered level by level. What falls strictly is the effective resolution: the
    # number of distinct rows and columns the output keeps.
    outs = [distort(ref, 21, lv, np.random.default_rng(0)) for lv in range(1, 6)]
    rows = [_runs(o, 0) for o in outs]
    cols = [_runs(o, 1) for o in outs]
    assert _strictly_decreasing(rows) and _strictly_decreasing(cols), (rows, cols)
    assert rows[0] < ref.shape[0] and rows[-1] <= int(np.ceil(0.3 * ref.shape[0]))
    assert _psnr(ref, outs[-1]) < _psnr(ref, outs[0])


@pytest.mark.parametrize("type_id", [1, 2, 3, 19, 24])
def test_scale_shrinks_pixel_sized_parameters(ref, type_id):
    full = _psnr(ref, distort(ref, type_id, 4, np.random.default_rng(0), scale=1.0))
    half = _psnr(ref, distort(ref, type_id, 4, np.random.default_rng(0), scale=0.5))
    assert half > full


# ------------------------------------------------------------ contract of distort()


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_output_range_shape_and_restretch(ref, type_id):
    for level in (1, 5):
        out = distort(ref, type_id, level, np.random.default_rng(3))
        assert out.dtype == np.float64 and out.shape == ref.shape
        assert out.min() == 0.0 and out.max() == 1.0  # the global re-stretch
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_tiny_images_work_at_their_scale(type_id):
    tiny = np.random.default_rng(0).random((12, 16, 3))
    for level in (1, 5):
        out = distort(tiny, type_id, level, np.random.default_rng(0), scale=16 / 512)
        assert out.shape == tiny.shape and np.all(np.isfinite(out))


def test_input_is_normalised_globally(ref):
    squeezed = 0.2 + 0.5 * ref
    a = distort(ref, 10, 3, np.random.default_rng(0))
    b = distort(squeezed, 10, 3, np.random.default_rng(0))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_same_seed_same_output(ref, type_id):
    a = distort(ref, type_id, 4, np.random.default_rng(11))
    b = distort(ref, type_id, 4, np.random.default_rng(11))
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("type_id", RANDOM_TYPES)
def test_random_types_depend_on_seed(ref, type_id):
    a = distort(ref, type_id, 5, np.random.default_rng(1))
    b = distort(ref, type_id, 5, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("type_id", DETERMINISTIC_TYPES)
def test_deterministic_types_ignore_seed(ref, type_id):
    a = distort(ref, type_id, 5, np.random.default_rng(1))
    b = distort(ref, type_id, 5, np.random.default_rng(2))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("type_id", "level"), [(0, 1), (26, 1), (1, 0), (1, 6), (1.0, 1), (1, True), (True, 1)]
)
def test_bad_type_or_level_raises(ref, type_id, level):
    with pytest.raises(ValueError):
        distort(ref, type_id, level, np.random.default_rng(0))


@pytest.mark.parametrize("bad", [np.zeros((8, 8)), np.zeros((8, 8, 4)), np.zeros((2, 8, 8, 3))])
def test_non_rgb_image_raises(bad):
    with pytest.raises(ValueError):
        distort(bad, 1, 1, np.random.default_rng(0))


def test_non_positive_scale_raises(ref):
    with pytest.raises(ValueError):
        distort(ref, 1, 1, np.random.default_rng(0), scale=0.0)


def test_levels_table_has_five_parameters_per_type():
    assert sorted(KADID_LEVELS) == ALL_TYPES
    assert all(len(v) == 5 for v in KADID_LEVELS.values())
    assert KADID_LEVELS[9][-1] == 400  # the official JP2K L5, not some ports' 170


def test_to_uint8_rounds_and_clips():
    x = np.array([-0.5, 0.0, 0.5 / 255, 0.4999, 1.0, 1.7])
    np.testing.assert_array_equal(to_uint8(x), np.array([0, 0, 1, 127, 255, 255], dtype=np.uint8))
    assert to_uint8(x).dtype == np.uint8


# ------------------------------------------------------- per-operation behaviour


def test_color_quantization_keeps_at_most_n_colours(ref):
    for level, n_colours in enumerate(KADID_LEVELS[6], start=1):
        out = to_uint8(distort(ref, 6, level, np.random.default_rng(0)))
        assert len(np.unique(out.reshape(-1, 3), axis=0)) <= n_colours


def test_quantization_keeps_at_most_n_plus_one_values(ref):
    for level, n_thresholds in enumerate(KADID_LEVELS[22], start=1):
        out = distort(ref, 22, level, np.random.default_rng(0))
        assert len(np.unique(out)) <= n_thresholds + 1


def test_hsv_saturation_matches_an_hsv_round_trip(ref):
    # Type 7 scales S in HSV without clipping; compare with scikit-image's HSV round trip.
    hsv = color.rgb2hsv(ref)
    for level, factor in enumerate(KADID_LEVELS[7], start=1):
        scaled = hsv.copy()
        scaled[..., 1] *= factor
        expected = color.hsv2rgb(scaled)
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        out = distort(ref, 7, level, np.random.default_rng(0))
        np.testing.assert_allclose(out, expected, atol=1e-9)


def test_lab_saturation_level_one_is_a_lab_round_trip(ref):
    # S = 1 only round-trips through Lab: nearly lossless, which also checks the
    # conversions invert each other.
    assert _psnr(ref, distort(ref, 8, 1, np.random.default_rng(0))) > 100.0


def test_motion_blur_level_one_is_identity(ref):
    np.testing.assert_array_equal(distort(ref, 3, 1, np.random.default_rng(0)), ref)


def test_impulse_noise_only_sets_black_or_white(ref):
    out = distort(ref, 13, 5, np.random.default_rng(0))
    changed = out != ref
    assert np.all((out[changed] == 0.0) | (out[changed] == 1.0))
    assert 0.01 < changed.mean() < 0.05  # density 0.03, minus hits already at 0 or 1


def test_color_shift_moves_only_green(ref):
    out = distort(ref, 5, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(out[..., [0, 2]], ref[..., [0, 2]])
    assert not np.array_equal(out[..., 1], ref[..., 1])


def test_scaled_color_shift_keeps_every_level_distinct(ref):
    # at 192/512 the levels' shifts are 0.375 to 3.75 px: whole-pixel rounding would make
    # neighbours equal along a diagonal; the sub-pixel shift keeps them apart, in range
    levels = {5: (1, 2.5, 4, 6, 10)}
    outs = [distort(ref, 5, lv, np.random.default_rng(0), 0.375, levels=levels) for lv in range(1, 6)]
    for out in outs:
        np.testing.assert_array_equal(out[..., [0, 2]], ref[..., [0, 2]])
    errors = [float(np.abs(out - ref).mean()) for out in outs]
    assert _strictly_decreasing([-e for e in errors]), np.round(errors, 5)


# ------------------------------------------------------------------ multi-level Otsu


def _between_class_variance(hist: np.ndarray, last_bins) -> float:
    p = hist / hist.sum()
    levels = np.arange(len(hist))
    mu_t = float(p @ levels)
    edges = [-1, *last_bins, len(hist) - 1]
    total = 0.0
    for a, b in itertools.pairwise(edges):
        w = p[a + 1 : b + 1].sum()
        if w > 0:
            mu = float(p[a + 1 : b + 1] @ levels[a + 1 : b + 1]) / w
            total += w * (mu - mu_t) ** 2
    return total


@pytest.mark.parametrize("n_thresholds", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiotsu_dp_equals_brute_force(n_thresholds, seed):
    hist = np.random.default_rng(seed).integers(0, 50, size=12).astype(float)
    scores = {
        cut: _between_class_variance(hist, cut)
        for cut in itertools.combinations(range(11), n_thresholds)
    }
    best_cut = max(scores, key=scores.get)
    dp_cut = tuple(int(k) for k in multiotsu_from_histogram(hist, n_thresholds))
    assert scores[dp_cut] == pytest.approx(scores[best_cut], rel=1e-12)
    runner_up = sorted(scores.values())[-2]
    if scores[best_cut] - runner_up > 1e-9:  # a unique optimum pins the thresholds too
        assert dp_cut == best_cut


def test_multiotsu_separates_clusters():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(m, 0.02, 500) for m in (0.1, 0.5, 0.9)])
    t = multiotsu_thresholds(values, 2)
    assert 0.15 < t[0] < 0.45 and 0.55 < t[1] < 0.85


def test_multiotsu_rejects_bad_counts():
    with pytest.raises(ValueError):
        multiotsu_from_histogram(np.ones(4), 4)
    with pytest.raises(ValueError):
        multiotsu_from_histogram(np.ones(4), 0)
