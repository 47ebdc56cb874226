"""Input checks and the luminance every classical feature starts from."""
from __future__ import annotations

import numpy as np
import torch

from bench.core.errors import BenchError


class FeatureError(BenchError):
    """A batch of images a classical feature cannot be computed on (wrong shape or dtype,
    smaller than the feature's minimum size, an image with no usable content when the
    caller asked for errors instead of the counted fallback)."""


def check_images(images, name: str, min_size: int) -> np.ndarray:
    """``images`` as a uint8 array N x H x W x 3; FeatureError naming ``name`` otherwise or
    when H or W is under ``min_size`` pixels."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise FeatureError(f"{name}: images must be uint8 N x H x W x 3, got {arr.dtype} "
                           f"{tuple(arr.shape)}; decode and stack the images first")
    if arr.shape[1] < min_size or arr.shape[2] < min_size:
        raise FeatureError(f"{name}: images are {arr.shape[1]} x {arr.shape[2]} px, under the "
                           f"{min_size} px this feature needs; use a larger cache size")
    return arr


def luma(images: np.ndarray) -> torch.Tensor:
    """Y of YIQ (0.299 R + 0.587 G + 0.114 B, rounded as pyiqa does), float64 N x 1 x H x W
    in [0, 255], from uint8 N x H x W x 3 (pyiqa's ``to_y_channel``, the grey level the
    MATLAB releases of BRISQUE and NIQE use up to rounding)."""
    from pyiqa.utils.color_util import to_y_channel

    arr = np.ascontiguousarray(images)
    if not arr.flags.writeable:  # a read-only cache memmap: torch wants a writable buffer
        arr = arr.copy()
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).to(torch.float64) / 255.0
    return to_y_channel(x, 255.0)


def flat_images(y: torch.Tensor) -> np.ndarray:
    """Boolean N: images whose luminance is constant (no natural-scene statistics exist)."""
    flat = y.amax(dim=(1, 2, 3)) == y.amin(dim=(1, 2, 3))
    return flat.numpy()
