"""An image bank: the decoded arrays of several datasets behind one global index, and the
batch cutter that turns indices into uint8 crops.

Crops are cut from the cache arrays with plain slicing (no decoding, no float work on the
host); conversion to float and normalisation happen on the device.
"""
from __future__ import annotations

import functools

import numpy as np


class ImageBank:
    """Concatenation of decoded arrays (each N_k x S x S x 3 uint8, same S).

    Global index g addresses image ``local[g]`` of array ``which[g]``.
    """

    def __init__(self, arrays: list[np.ndarray]):
        sizes = {a.shape[1:] for a in arrays}
        if len(sizes) != 1:
            raise ValueError(f"arrays differ in image shape: {sizes}")
        self.arrays = arrays
        self.size = arrays[0].shape[1]
        self.which = np.concatenate([np.full(len(a), k, dtype=np.int32) for k, a in enumerate(arrays)])
        self.local = np.concatenate([np.arange(len(a), dtype=np.int64) for a in arrays])
        self.offsets = np.cumsum([0] + [len(a) for a in arrays])[:-1]

    def __len__(self) -> int:
        return len(self.which)

    def image(self, g: int) -> np.ndarray:
        """Full S x S x 3 uint8 image at global index ``g``."""
        return self.arrays[self.which[g]][self.local[g]]

    def random_crops(self, idx: np.ndarray, crop: int, rng: np.random.Generator,
                     flip: bool = True, out: np.ndarray | None = None) -> np.ndarray:
        """Random crop x crop x 3 uint8 crops of the images ``idx`` (length B), each
        flipped horizontally with probability 1/2 when ``flip``. Returns B x crop x crop x 3.
        The random draws are :func:`draw_crops`'s (the device bank makes the same ones)."""
        ys, xs, flips = draw_crops(len(idx), self.size, crop, rng, flip)
        return self.cut(idx, ys, xs, flips, crop, out)

    def cut(self, idx: np.ndarray, ys: np.ndarray, xs: np.ndarray, flips: np.ndarray,
            crop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Crops of images ``idx`` with top-left corners (ys, xs), mirrored where ``flips``.

        Flipped crops go through OpenCV's SIMD ``flip`` when cv2 is importable (it comes
        with pyiqa): numpy's copy of a mirrored H x W x 3 view moves 3 bytes per inner
        loop and runs at about a fifth of the speed. Both give the same bytes."""
        b = len(idx)
        if out is None:
            out = np.empty((b, crop, crop, 3), dtype=np.uint8)
        mirror = _mirror()
        # plain ndarray views (slicing a np.memmap runs Python code per slice) and Python
        # ints (numpy scalar indexing costs more than the copy of a small crop)
        arrays = [np.asarray(a) for a in self.arrays]
        idx = np.asarray(idx)
        rows = zip(self.which[idx].tolist(), self.local[idx].tolist(), np.asarray(ys).tolist(),
                   np.asarray(xs).tolist(), np.asarray(flips).tolist())
        for k, (a, i, y, x, f) in enumerate(rows):
            src = arrays[a][i, y:y + crop, x:x + crop]
            if f:
                mirror(src, out[k])
            else:
                out[k] = src
        return out

    def center_crops(self, idx: np.ndarray, crop: int) -> np.ndarray:
        """Central crop x crop x 3 uint8 crops of the images ``idx``; B x crop x crop x 3."""
        o = (self.size - crop) // 2
        out = np.empty((len(idx), crop, crop, 3), dtype=np.uint8)
        for k, g in enumerate(idx):
            out[k] = self.arrays[self.which[g]][self.local[g], o:o + crop, o:o + crop]
        return out

    def resized_images(self, idx: np.ndarray, side: int) -> np.ndarray:
        """The whole images ``idx`` resized to side x side (the test view 'resize': the
        paper's and MetaIQA's test input), by :func:`resize_images`; B x side x side x 3
        uint8. Deterministic: the same indices and side always give the same bytes."""
        arrays = [np.asarray(a) for a in self.arrays]
        idx = np.asarray(idx)
        stack = np.empty((len(idx), self.size, self.size, 3), dtype=np.uint8)
        for k, (a, i) in enumerate(zip(self.which[idx].tolist(), self.local[idx].tolist())):
            stack[k] = arrays[a][i]
        return resize_images(stack, side)


def resize_images(images: np.ndarray, side: int) -> np.ndarray:
    """B x H x W x 3 uint8 images resized to B x side x side x 3 uint8 with PIL's bicubic
    filter (the decoded cache's own resize; PIL widens the kernel when shrinking, so
    it antialiases). Images already side x side are copied unchanged."""
    from PIL import Image

    images = np.asarray(images)
    if images.shape[1:3] == (side, side):
        return images.copy()
    out = np.empty((len(images), side, side, 3), dtype=np.uint8)
    for k, img in enumerate(images):
        out[k] = np.asarray(Image.fromarray(img).resize((side, side), Image.BICUBIC))
    return out


def draw_crops(n: int, size: int, crop: int, rng: np.random.Generator,
               flip: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The random part of cutting ``n`` training crops: (ys, xs, flips), drawn in this
    order from ``rng`` (top-left rows, then columns, uniform in [0, size - crop]; then a
    flip with probability 1/2 each when ``flip``). Host and device banks both use it, so
    the same generator state gives the same crops on either."""
    span = size - crop + 1
    ys = rng.integers(0, span, size=n)
    xs = rng.integers(0, span, size=n)
    flips = rng.random(n) < 0.5 if flip else np.zeros(n, dtype=bool)
    return ys, xs, flips


def _mirror_numpy(src: np.ndarray, dst: np.ndarray) -> None:
    # one channel at a time: the inner loop then runs over a whole row, not 3 bytes
    m = src[:, ::-1]
    for c in range(src.shape[2]):
        dst[:, :, c] = m[:, :, c]


def _mirror_cv2(cv2, src: np.ndarray, dst: np.ndarray) -> None:
    if src.strides[2] != 1 or src.strides[1] != src.shape[2] or not dst.flags.c_contiguous:
        _mirror_numpy(src, dst)  # a layout OpenCV cannot take as a Mat
    else:
        cv2.flip(src, 1, dst=dst)


_MIRROR = None


def _mirror():
    """The horizontal mirror copy ``mirror(src, dst)`` (src an H x W x 3 view), OpenCV's
    when cv2 is importable, numpy's otherwise."""
    global _MIRROR
    if _MIRROR is None:
        try:
            import cv2
        except ImportError:  # pragma: no cover - cv2 comes with pyiqa
            _MIRROR = _mirror_numpy
        else:
            _MIRROR = functools.partial(_mirror_cv2, cv2)
    return _MIRROR
