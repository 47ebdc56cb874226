"""Full-reference pairs: the reference and the distorted crop of a pair come from the same
window (and the same flip), on the host and on the device, deterministically in the
generator; a pair without a reference, or of two sizes, is refused by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import cache as cache_mod
from bench.data.bank import draw_crops
from bench.data.pairs import DevicePairBank, open_pair_bank, reference_index
from bench.data.records import Dataset, Record
from bench.core.errors import DataError

S = 32  # side of every test image = the cache size, so decoding does not resample


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "_VERIFIED", set())


def coordinate_image(shift: int = 0) -> np.ndarray:
    """S x S x 3 uint8 whose pixel (y, x) is (y, x, shift): it names its own position."""
    y, x = np.mgrid[0:S, 0:S]
    return np.stack([y, x, np.full_like(y, shift)], axis=-1).astype(np.uint8)


def write_pairs(root: Path, refs: int, per_ref: int, make) -> Dataset:
    """A dataset of ``refs`` references with ``per_ref`` distorted images each;
    make(r, k) -> (reference image, distorted image) for reference r, image k."""
    (root / "refs").mkdir(parents=True)
    (root / "dist").mkdir()
    records = []
    for r in range(refs):
        for k in range(per_ref):
            ref, dist = make(r, k)
            if k == 0:
                Image.fromarray(ref).save(root / "refs" / f"R{r}.png")
            Image.fromarray(dist).save(root / "dist" / f"R{r}_{k}.png")
            records.append(Record(image=f"dist/R{r}_{k}.png", mos=0.5, mos_raw=0.5, ref=f"R{r}",
                                  ref_image=f"refs/R{r}.png", dist_type="X", dist_id=1, level=k + 1))
    return Dataset("pairs", root, records, "synthetic", ["X"])


def random_pair(r: int, k: int):
    rng = np.random.default_rng(r)  # one reference per r; its images are exact copies
    ref = rng.integers(0, 256, (S, S, 3), dtype=np.uint8)
    return ref, ref.copy()


def test_distorted_copies_give_identical_crops(tmp_path):
    ds = write_pairs(tmp_path / "d", 3, 4, random_pair)
    pairs = open_pair_bank([ds], S, log=lambda m: None)
    idx = np.array([0, 5, 11, 3, 3, 7, 8, 1])
    ref, dist = pairs.random_pairs(idx, 12, np.random.default_rng(0))
    assert ref.shape == dist.shape == (8, 12, 12, 3) and ref.dtype == np.uint8
    np.testing.assert_array_equal(ref, dist)
    assert not np.array_equal(ref[0], ref[2])  # different references, different content
    cref, cdist = pairs.center_pairs(idx, 12)
    np.testing.assert_array_equal(cref, cdist)
    rref, rdist = pairs.resized_pairs(idx, 16)
    np.testing.assert_array_equal(rref, rdist)


def test_crop_windows_and_flips_match_the_draws(tmp_path):
    # reference and distorted image both encode their own coordinates; the distorted one
    # carries the image number in channel 2, so a crop also says which image it came from
    ds = write_pairs(tmp_path / "d", 2, 3, lambda r, k: (coordinate_image(200 + r), coordinate_image(10 * r + k)))
    pairs = open_pair_bank([ds], S, log=lambda m: None)
    idx = np.arange(6).repeat(4)
    crop = 9
    ref, dist = pairs.random_pairs(idx, crop, np.random.default_rng(3))
    ys, xs, flips = draw_crops(len(idx), S, crop, np.random.default_rng(3), True)
    assert flips.any() and not flips.all()
    for b, g in enumerate(idx):
        want_x = xs[b] + (np.arange(crop)[::-1] if flips[b] else np.arange(crop))
        for crops in (ref, dist):
            np.testing.assert_array_equal(crops[b, :, 0, 0], ys[b] + np.arange(crop))
            np.testing.assert_array_equal(crops[b, 0, :, 1], want_x)
        assert (dist[b, :, :, 2] == 10 * (g // 3) + g % 3).all()  # the distorted image g
        assert (ref[b, :, :, 2] == 200 + g // 3).all()  # ... beside its own reference


def test_same_generator_state_same_bytes(tmp_path):
    ds = write_pairs(tmp_path / "d", 2, 3, random_pair)
    pairs = open_pair_bank([ds], S, log=lambda m: None)
    idx = np.array([4, 0, 2, 5])
    a = pairs.random_pairs(idx, 10, np.random.default_rng(7))
    b = pairs.random_pairs(idx, 10, np.random.default_rng(7))
    c = pairs.random_pairs(idx, 10, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_device_bank_cuts_the_same_bytes(tmp_path):
    a = write_pairs(tmp_path / "a", 2, 3, lambda r, k: (coordinate_image(r), coordinate_image(50 + 10 * r + k)))
    b = write_pairs(tmp_path / "b", 3, 2, random_pair)
    b.name = "pairs-b"
    pairs = open_pair_bank([a, b], S, log=lambda m: None)
    assert len(pairs) == 12 and len(pairs.references) == 5
    dev = DevicePairBank(pairs, "cpu")
    idx = np.array([0, 11, 6, 3, 9, 5])
    host = pairs.random_pairs(idx, 11, np.random.default_rng(1))
    on_dev = dev.random_pairs(idx, 11, np.random.default_rng(1))
    for h, d in zip(host, on_dev):
        assert isinstance(d, torch.Tensor) and d.dtype == torch.uint8
        np.testing.assert_array_equal(d.numpy(), h)
    for h, d in zip(pairs.center_pairs(idx, 11), dev.center_pairs(idx, 11)):
        np.testing.assert_array_equal(d.numpy(), h)
    # the second dataset's images sit beside the second dataset's references
    ref, dist = on_dev
    np.testing.assert_array_equal(ref[1].numpy(), dist[1].numpy())


def test_missing_reference_file_is_refused_by_name(tmp_path):
    ds = write_pairs(tmp_path / "d", 2, 2, random_pair)
    (tmp_path / "d" / "refs" / "R1.png").unlink()
    with pytest.raises(DataError, match=r"reference .*refs/R1\.png of image .*dist/R1_0\.png .*missing"):
        open_pair_bank([ds], S, log=lambda m: None)


def test_record_without_reference_is_refused_by_name(tmp_path):
    ds = write_pairs(tmp_path / "d", 2, 2, random_pair)
    ds.records[3] = Record(image="dist/R1_1.png", mos=0.5, mos_raw=0.5, ref="R1")
    with pytest.raises(DataError, match=r"dist/R1_1\.png of dataset 'pairs' has no reference"):
        reference_index(ds)
    authentic = Dataset("wild", tmp_path, [Record(image="a.png", mos=0.1, mos_raw=1.0)], "authentic")
    with pytest.raises(DataError, match="'wild' has no reference images"):
        reference_index(authentic)


def test_distorted_image_of_another_size_is_refused_not_resized(tmp_path):
    ds = write_pairs(tmp_path / "d", 2, 2, random_pair)
    Image.fromarray(np.zeros((S, S + 4, 3), np.uint8)).save(tmp_path / "d" / "dist" / "R0_1.png")
    with pytest.raises(DataError, match=r"dist/R0_1\.png is 36x32 px but its reference .*refs/R0\.png is 32x32"):
        open_pair_bank([ds], S, log=lambda m: None)
