"""The counterfactual division (docs/readings.md): Eq. 6 subset weights, the subset
structure of the ablations (q = 1, +L levels), per-dataset types, the content clusters
and the pixel-statistics content feature."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.methods.shared.division import build_subsets, cluster_probabilities, pixel_stat_features
from bench.core.errors import UsageError


def toy_items(datasets=("d1",), types=("GB", "JPEG", "WN"), levels=(1, 2, 3), refs=4,
              clusters=2, seed=0):
    """Every (dataset, type, level, ref) combination once, with random strictly positive
    soft content probabilities per reference. Returns types, refs, levels, w_ref."""
    rng = np.random.default_rng(seed)
    type_keys, ref_keys, level_keys = [], [], []
    for d, t, lv, r in itertools.product(datasets, types, levels, range(refs)):
        type_keys.append((d, t))
        ref_keys.append((d, f"r{r}"))
        level_keys.append(lv)
    w_ref = {r: rng.dirichlet(np.ones(clusters)) for r in sorted(set(ref_keys))}
    return type_keys, ref_keys, level_keys, w_ref


def test_eq6_weights_sum_to_one_and_follow_the_formula():
    types, refs, _, w_ref = toy_items(clusters=3)
    subsets = build_subsets(types, refs, w_ref, 3)
    assert len(subsets) == 3 * 3
    for s in subsets:
        type_key, cluster = s.key
        assert s.weights.sum() == pytest.approx(1.0)
        assert all(types[k] == type_key for k in s.items)
        # Eq. 6: w[r, i] / sum of w[., i] over the images of type j
        raw = np.array([w_ref[refs[k]][cluster] for k in s.items])
        np.testing.assert_allclose(s.weights, raw / raw.sum())
    # every image of a type appears in each of its type's subsets
    for t in set(types):
        n_t = sum(1 for x in types if x == t)
        assert all(len(s.items) == n_t for s in subsets if s.key[0] == t)


def test_one_cluster_gives_one_uniform_subset_per_type():
    types, refs, _, _ = toy_items()
    ones = {r: np.ones(1) for r in set(refs)}
    subsets = build_subsets(types, refs, ones, 1)
    assert [s.key for s in subsets] == [(t, 0) for t in sorted(set(types))]
    for s in subsets:
        np.testing.assert_allclose(s.weights, np.full(len(s.items), 1.0 / len(s.items)))


def test_levels_give_types_times_levels_times_clusters_subsets():
    types, refs, levels, w_ref = toy_items(types=("A", "B", "C", "D"), levels=(1, 2, 3), clusters=2)
    subsets = build_subsets(types, refs, w_ref, 2, levels)
    assert len(subsets) == 4 * 3 * 2
    assert len({s.key for s in subsets}) == len(subsets)
    for s in subsets:
        (type_key, level, cluster) = s.key
        assert all(types[k] == type_key and levels[k] == level for k in s.items)
        assert s.weights.sum() == pytest.approx(1.0)
        assert cluster in (0, 1)


def test_same_type_name_in_two_datasets_stays_two_types():
    types, refs, _, w_ref = toy_items(datasets=("tid2013", "kadid10k"), types=("GB", "JPEG"), clusters=2)
    subsets = build_subsets(types, refs, w_ref, 2)
    keys = {s.key[0] for s in subsets}
    assert keys == {("tid2013", "GB"), ("tid2013", "JPEG"), ("kadid10k", "GB"), ("kadid10k", "JPEG")}
    assert len(subsets) == 4 * 2
    for s in subsets:
        assert {types[k][0] for k in s.items} == {s.key[0][0]}   # never mixes datasets


def test_cluster_without_mass_in_a_type_is_skipped():
    types = [("d", "A")] * 2 + [("d", "B")] * 2
    refs = ["r0", "r1", "r2", "r3"]
    w_ref = {"r0": np.array([1.0, 0.0]), "r1": np.array([1.0, 0.0]),
             "r2": np.array([0.3, 0.7]), "r3": np.array([0.5, 0.5])}
    subsets = build_subsets(types, refs, w_ref, 2)
    assert [s.key for s in subsets] == [(("d", "A"), 0), (("d", "B"), 0), (("d", "B"), 1)]
    np.testing.assert_allclose(subsets[1].weights, [0.375, 0.625])
    np.testing.assert_allclose(subsets[2].weights, [0.7 / 1.2, 0.5 / 1.2])


def two_blobs(n_per: int = 8, dims: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated Gaussian blobs of features and their labels."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 0.3, size=(n_per, dims))
    b = rng.normal(4.0, 0.3, size=(n_per, dims))
    return np.vstack([a, b]), np.repeat([0, 1], n_per)


def test_cluster_probabilities_rows_sum_to_one_and_are_seeded():
    feats, labels = two_blobs()
    w = cluster_probabilities(feats, 2, seed=5)
    assert w.shape == (16, 2)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(w >= 0)
    np.testing.assert_array_equal(w, cluster_probabilities(feats, 2, seed=5))
    # the two separated blobs land in different clusters (up to the cluster order)
    hard = w.argmax(axis=1)
    assert len(set(hard[labels == 0])) == 1 and len(set(hard[labels == 1])) == 1
    assert hard[0] != hard[-1]


def test_cluster_probabilities_shapes_and_limits():
    feats, _ = two_blobs(n_per=5)
    w3 = cluster_probabilities(feats, 3, seed=0)
    assert w3.shape == (10, 3)
    np.testing.assert_allclose(w3.sum(axis=1), 1.0)
    np.testing.assert_array_equal(cluster_probabilities(feats, 1), np.ones((10, 1)))
    with pytest.raises(UsageError, match="cannot form"):
        cluster_probabilities(feats[:2], 3)


def test_pixel_stat_features_describe_content():
    dark = np.full((16, 16, 3), 20, dtype=np.uint8)
    bright = np.full((16, 16, 3), 230, dtype=np.uint8)
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    f = pixel_stat_features([dark, bright, noisy])
    assert f.shape == (3, 31)
    assert f[1, :3].mean() > f[0, :3].mean()            # RGB means follow brightness
    np.testing.assert_allclose(f[:2, 3:6], 0.0, atol=1e-12)        # flat images: zero std
    assert np.all(f[2, 3:6] > 0.2)                         # noise: large std
    np.testing.assert_allclose(f[:, 6:22].sum(axis=1), 1.0)   # luminance histogram
    np.testing.assert_allclose(f[:2, 22:30].sum(axis=1), 1.0)  # gradient histogram (0-0.5)
    assert 0.9 < f[2, 22:30].sum() <= 1.0                      # noise: a few steeper gradients
    assert f[0, 22] == 1.0 and f[2, 22] < 1.0             # flat: all gradients in bin 0
