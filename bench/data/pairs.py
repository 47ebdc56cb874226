"""Full-reference pairs: every distorted image of a dataset with references, beside its
reference, and aligned crops of both.

The references of a dataset are decoded into the same cache as its images (one array per
dataset, named ``<dataset>.refs``), at the same square size and by the same decode
(:func:`~bench.data.cache.decode_image`), so pixel (y, x) of a decoded distorted image
and pixel (y, x) of its decoded reference come from the same place of the originals.
An aligned crop is one window (and one flip) applied to both.

Refusals (DataError, one line naming the file): a dataset without references, a record
whose reference is not given or not on disk, and a distorted image whose original size
differs from its reference's (a pair of different sizes is not resized into alignment:
it is not a pair).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .bank import ImageBank, draw_crops
from .records import Dataset, Record

_SIZES: dict[tuple, tuple[int, int]] = {}  # (path, size, mtime_ns) -> (width, height)


def _pixel_size(path: Path) -> tuple[int, int]:
    """(width, height) of the image file ``path`` from its header (memoised per process
    on the file's size and mtime); DataError naming it when missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"image {path} is missing; run `python -m bench data check` to list "
                        "every missing file, then restore it from the release") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SIZES:
        try:
            with Image.open(path) as im:
                _SIZES[key] = im.size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"image {path} cannot be read ({exc}); restore it from the release") from None
    return _SIZES[key]


def reference_index(ds: Dataset, check_sizes: bool = True) -> tuple[list[str], np.ndarray]:
    """The references of ``ds``: (paths of the distinct reference images relative to the
    dataset root, in order of first use; ref_of, an int64 array of len(ds) giving each
    record's position in that list).

    DataError naming the file when the dataset has no references, a record has none, a
    reference file is missing, or (``check_sizes``) a distorted image's width x height
    differs from its reference's (read from the file headers, about 0.1 ms a file)."""
    if not any(r.ref_image for r in ds.records):
        raise DataError(f"dataset '{ds.name}' has no reference images: full-reference "
                        "protocols need a dataset with references (TID2013, KADID-10k, MLIVE "
                        "or a synthetic set)")
    order: dict[str, int] = {}
    ref_of = np.empty(len(ds.records), dtype=np.int64)
    root = Path(ds.root)
    for i, rec in enumerate(ds.records):
        if not rec.ref_image:
            raise DataError(f"image {root / rec.image} of dataset '{ds.name}' has no reference "
                            "image in the score file; a full-reference pair needs one")
        if rec.ref_image not in order:
            if not (root / rec.ref_image).is_file():
                raise DataError(f"reference {root / rec.ref_image} of image {root / rec.image} "
                                f"(dataset '{ds.name}') is missing; restore it from the release")
            order[rec.ref_image] = len(order)
        ref_of[i] = order[rec.ref_image]
        if check_sizes:
            got, want = _pixel_size(root / rec.image), _pixel_size(root / rec.ref_image)
            if got != want:
                raise DataError(
                    f"image {root / rec.image} is {got[0]}x{got[1]} px but its reference "
                    f"{root / rec.ref_image} is {want[0]}x{want[1]} px; a full-reference pair "
                    "must have one size (refusing to resize one onto the other)")
    return list(order), ref_of


def reference_dataset(ds: Dataset, ref_images: list[str]) -> Dataset:
    """A dataset whose records are ``ds``'s reference images (``ref_images``, relative to
    its root), named ``<name>.refs``: what the decoded cache stores them under."""
    records = [Record(image=p, mos=1.0, mos_raw=float("nan"), ref=Path(p).stem) for p in ref_images]
    return Dataset(f"{ds.name}.refs", ds.root, records, "reference")


def decoded_references(ds: Dataset, size: int, threads: int = 4, check_sizes: bool = True,
                       log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray]:
    """(refs, ref_of): the distinct references of ``ds`` decoded as an R x size x size x 3
    uint8 memmap (decoded once into the cache, checked like every decoded array), and the
    int64 array of len(ds) giving each record's row in ``refs``. Refusals as
    :func:`reference_index`."""
    from .cache import decoded_array

    ref_images, ref_of = reference_index(ds, check_sizes)
    return decoded_array(reference_dataset(ds, ref_images), size, threads, log), ref_of


class PairBank:
    """Distorted images and their references behind the distorted bank's global index.

    distorted: the :class:`ImageBank` of the distorted images (global index g);
    references: an ImageBank of reference images (same square size); ref_of: int64 array
    of len(distorted), the global index in ``references`` of image g's reference.
    """

    def __init__(self, distorted: ImageBank, references: ImageBank, ref_of: np.ndarray):
        ref_of = np.asarray(ref_of, dtype=np.int64)
        if references.size != distorted.size:
            raise ValueError(f"references are {references.size} px, images {distorted.size} px")
        if ref_of.shape != (len(distorted),) or ref_of.min() < 0 or ref_of.max() >= len(references):
            raise ValueError("ref_of must give one reference index per distorted image")
        self.distorted, self.references, self.ref_of = distorted, references, ref_of
        self.size = distorted.size

    def __len__(self) -> int:
        return len(self.distorted)

    def cut_pairs(self, idx: np.ndarray, ys: np.ndarray, xs: np.ndarray, flips: np.ndarray,
                  crop: int) -> tuple[np.ndarray, np.ndarray]:
        """(reference crops, distorted crops), each B x crop x crop x 3 uint8: the window
        at top-left (ys[b], xs[b]) of image idx[b] and of its reference, both mirrored
        where flips[b]."""
        idx = np.asarray(idx, dtype=np.int64)
        ref = self.references.cut(self.ref_of[idx], ys, xs, flips, crop)
        return ref, self.distorted.cut(idx, ys, xs, flips, crop)

    def random_pairs(self, idx: np.ndarray, crop: int, rng: np.random.Generator,
                     flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Aligned random crops (reference, distorted), each B x crop x crop x 3 uint8:
        ONE draw of :func:`draw_crops` (the draws ``ImageBank.random_crops`` makes for B
        images) serves both, so the same generator state gives the same windows."""
        ys, xs, flips = draw_crops(len(idx), self.size, crop, rng, flip)
        return self.cut_pairs(idx, ys, xs, flips, crop)

    def center_pairs(self, idx: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
        """Central crops (reference, distorted), each B x crop x crop x 3 uint8."""
        idx = np.asarray(idx, dtype=np.int64)
        return self.references.center_crops(self.ref_of[idx], crop), self.distorted.center_crops(idx, crop)

    def resized_pairs(self, idx: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Whole images resized to side x side (reference, distorted), each
        B x side x side x 3 uint8, by the bank's deterministic resize."""
        idx = np.asarray(idx, dtype=np.int64)
        return self.references.resized_images(self.ref_of[idx], side), self.distorted.resized_images(idx, side)


def pair_bank(datasets: list[Dataset], distorted: ImageBank, size: int, threads: int = 4,
              log: Callable[[str], None] = print) -> PairBank:
    """The PairBank over ``distorted`` (an ImageBank whose arrays are the decoded images of
    ``datasets``, in that order, at ``size`` px): each dataset's references are decoded
    into the cache and stacked in one reference bank. Refusals as :func:`reference_index`."""
    if len(distorted.arrays) != len(datasets) or any(
            len(a) != len(ds) for a, ds in zip(distorted.arrays, datasets)):
        raise ValueError("the image bank's arrays must be the decoded datasets, in order")
    arrays, ref_of, at = [], [], 0
    for ds in datasets:
        refs, local = decoded_references(ds, size, threads, log=log)
        arrays.append(refs)
        ref_of.append(local + at)
        at += len(refs)
    return PairBank(distorted, ImageBank(arrays), np.concatenate(ref_of))


def open_pair_bank(datasets: list[Dataset], size: int, threads: int = 4,
                   log: Callable[[str], None] = print) -> PairBank:
    """Decode ``datasets`` and their references (cached) and return their PairBank."""
    from .cache import decoded_array

    bank = ImageBank([decoded_array(ds, size, threads, log) for ds in datasets])
    return pair_bank(datasets, bank, size, threads, log)


class DevicePairBank:
    """A PairBank resident on ``device``: both banks as :class:`~bench.data.device_bank.
    DeviceBank` (shared with other users of the same banks) and ``ref_of`` as a tensor.
    Its crops are ``PairBank``'s (same draws, same bytes) as uint8 tensors on the device."""

    def __init__(self, pairs: PairBank, device):
        from .device_bank import DeviceBank

        self.distorted = DeviceBank.of(pairs.distorted, device)
        self.references = DeviceBank.of(pairs.references, device)
        self.device = self.distorted.device
        self.ref_of = pairs.ref_of
        self.size = pairs.size

    def cut_pairs(self, idx, ys, xs, flips, crop: int):
        """(reference crops, distorted crops) on the device, as ``PairBank.cut_pairs``."""
        idx = np.asarray(idx, dtype=np.int64)
        return (self.references.cut(self.ref_of[idx], ys, xs, flips, crop),
                self.distorted.cut(idx, ys, xs, flips, crop))

    def random_pairs(self, idx: np.ndarray, crop: int, rng: np.random.Generator, flip: bool = True):
        """Aligned random crops on the device, as ``PairBank.random_pairs`` (same draws)."""
        ys, xs, flips = draw_crops(len(idx), self.size, crop, rng, flip)
        return self.cut_pairs(idx, ys, xs, flips, crop)

    def center_pairs(self, idx: np.ndarray, crop: int):
        """Central crops on the device, as ``PairBank.center_pairs``."""
        idx = np.asarray(idx, dtype=np.int64)
        return self.references.center_crops(self.ref_of[idx], crop), self.distorted.center_crops(idx, crop)

    def resized_pairs(self, idx: np.ndarray, side: int):
        """Whole images resized on the host path and moved, as ``PairBank.resized_pairs``."""
        idx = np.asarray(idx, dtype=np.int64)
        return (self.references.resized_images(self.ref_of[idx], side),
                self.distorted.resized_images(idx, side))
