"""An image bank: the decoded arrays of several datasets behind one global index, and the
batch cutter that turns indices into uint8 crops.

Crops are cut from the cache arrays with plain slicing (no decoding, no float work on the
host); conversion to float and normalisation happen on the device.
"""
from __future__ import annotations

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
        flipped horizontally with probability 1/2 when ``flip``. Returns B x crop x crop x 3."""
        b = len(idx)
        if out is None:
            out = np.empty((b, crop, crop, 3), dtype=np.uint8)
        span = self.size - crop + 1
        ys = rng.integers(0, span, size=b)
        xs = rng.integers(0, span, size=b)
        flips = rng.random(b) < 0.5 if flip else np.zeros(b, dtype=bool)
        arrays, which, local = self.arrays, self.which, self.local
        for k in range(b):
            g = idx[k]
            src = arrays[which[g]][local[g], ys[k]:ys[k] + crop, xs[k]:xs[k] + crop]
            out[k] = src[:, ::-1] if flips[k] else src
        return out

    def center_crops(self, idx: np.ndarray, crop: int) -> np.ndarray:
        """Central crop x crop x 3 uint8 crops of the images ``idx``; B x crop x crop x 3."""
        o = (self.size - crop) // 2
        out = np.empty((len(idx), crop, crop, 3), dtype=np.uint8)
        for k, g in enumerate(idx):
            out[k] = self.arrays[self.which[g]][self.local[g], o:o + crop, o:o + crop]
        return out
