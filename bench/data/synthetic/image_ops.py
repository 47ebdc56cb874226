"""Image operations the synthetic distortions are built from: quantisation to uint8,
min-max normalisation, colour conversions (CIE Lab of sRGB with a D65 white, BT.601
studio-range YCbCr, MATLAB's grey weights) and filtering (Gaussian, disk and motion
kernels with replicate borders, tone curves, Keys bicubic and nearest resampling).
Images are H x W x 3 float64 in [0, 1] unless a docstring says otherwise."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage, signal
from scipy.interpolate import CubicSpline

# --------------------------------------------------------------------------- utilities


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Quantise an image in [0, 1] (any shape, float) to uint8: round(255 x), clipped.

    Halves round up, as MATLAB's ``im2uint8`` does (NumPy's ``rint`` would round them to even).
    """
    return np.clip(np.floor(np.asarray(x, dtype=np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)


def minmax(x: np.ndarray) -> np.ndarray:
    """Global min-max normalisation to [0, 1]; a constant array maps to zeros."""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.zeros_like(x, dtype=np.float64)
    return (x - lo) / (hi - lo)


def from_pil(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def scaled_px(value: float, scale: float) -> int:
    """A pixel count scaled to the image, rounded half up (as MATLAB's round) and kept >= 1."""
    return max(1, math.floor(value * scale + 0.5))


# ----------------------------------------------------------------- colour conversions

_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_LAB_EPS = (6.0 / 29.0) ** 3

# BT.601 studio range for values in [0, 1]: Y in [16, 235]/255, Cb and Cr in [16, 240]/255.
_RGB_TO_YCC = (
    np.array(
        [
            [65.481, 128.553, 24.966],
            [-37.797, -74.203, 112.0],
            [112.0, -93.786, -18.214],
        ]
    )
    / 255.0
)
_YCC_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)

# MATLAB rgb2gray weights (BT.601 luma).
GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (HxWx3) to CIE Lab (D65): L* in [0, 100], a*, b* roughly +-100."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (lin @ _RGB_TO_XYZ.T) / _WHITE_D65
    f = np.where(xyz > _LAB_EPS, np.cbrt(xyz), xyz / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    return np.stack(
        [
            116.0 * f[..., 1] - 16.0,
            500.0 * (f[..., 0] - f[..., 1]),
            200.0 * (f[..., 1] - f[..., 2]),
        ],
        axis=-1,
    )


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) to sRGB, HxWx3, not clipped (out-of-gamut colours leave [0, 1])."""
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > 6.0 / 29.0, f**3, 3 * (6.0 / 29.0) ** 2 * (f - 4.0 / 29.0)) * _WHITE_D65
    lin = xyz @ _XYZ_TO_RGB.T
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.abs(lin) ** (1 / 2.4) - 0.055)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _RGB_TO_YCC.T + _YCC_OFFSET


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    return (ycc - _YCC_OFFSET) @ _YCC_TO_RGB.T


# ------------------------------------------------------------------------- filtering


def _gaussian_kernel1d(sigma: float) -> np.ndarray:
    half = math.ceil(2.0 * sigma)
    x = np.arange(-half, half + 1, dtype=np.float64)
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def gaussian_blur_px(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian over the first two axes, size 2*ceil(2 sigma)+1, replicate border."""
    if sigma <= 0:
        return img.copy()
    k = _gaussian_kernel1d(sigma)
    out = ndimage.correlate1d(img, k, axis=0, mode="nearest")
    return ndimage.correlate1d(out, k, axis=1, mode="nearest")


def filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel of HxWxC with a point-symmetric 2-D kernel, replicate border."""
    if kernel.shape == (1, 1):
        return img * kernel[0, 0]
    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(img, ((ph, ph), (pw, pw), (0, 0)), mode="edge")
    # Point-symmetric kernels make convolution and correlation the same.
    return signal.fftconvolve(padded, kernel[:, :, None], mode="valid", axes=(0, 1))


@lru_cache(maxsize=64)
def disk_kernel(radius: float) -> np.ndarray:
    """Area-weighted disk: each cell's weight is its overlap area with the disk, sum 1."""
    half = max(0, math.ceil(radius - 0.5))
    if half == 0:  # the disk fits in one cell: no blur
        return np.ones((1, 1))
    centres = np.arange(-half, half + 1, dtype=np.float64)
    n_sub = 256  # midpoint rule across each cell's width; the chord is integrated exactly in y
    xs = centres[:, None] + (np.arange(n_sub) + 0.5) / n_sub - 0.5  # (size, n_sub)
    chord = np.sqrt(np.maximum(radius * radius - xs * xs, 0.0))
    y0 = centres[:, None, None] - 0.5
    y1 = centres[:, None, None] + 0.5
    overlap = np.clip(np.minimum(chord[None], y1) - np.maximum(-chord[None], y0), 0.0, None)
    area = overlap.mean(axis=2)  # (rows: y, cols: x)
    return area / area.sum()


@lru_cache(maxsize=512)
def line_kernel(half_length: float, angle_deg: float) -> np.ndarray:
    """Anti-aliased line: weight max(0, 1 - distance to the segment), sum 1.

    The segment runs +-half_length px through the centre at angle_deg counter-clockwise
    from the x axis (image rows grow downwards). half_length 0 is the identity.
    """
    reach = math.ceil(half_length) + 1
    coords = np.arange(-reach, reach + 1, dtype=np.float64)
    x = coords[None, :]
    y = -coords[:, None]  # row index down -> y up
    t = math.radians(angle_deg)
    ux, uy = math.cos(t), math.sin(t)
    along = np.clip(x * ux + y * uy, -half_length, half_length)
    dist = np.hypot(x - along * ux, y - along * uy)
    k = np.maximum(0.0, 1.0 - dist)
    nz_r, nz_c = np.nonzero(k)
    r = max(abs(nz_r - reach).max(), abs(nz_c - reach).max())
    k = k[reach - r : reach + r + 1, reach - r : reach + r + 1]
    return k / k.sum()


def curves(x: np.ndarray, c) -> np.ndarray:
    """Tone curve through control points, clipped to [0, 1].

    Scalar c: the interpolating parabola through (0, 0), (0.5, c), (1, 1).
    Pair (c1, c2): not-a-knot cubic spline through x = 0, .3, .5, .7, 1 and
    y = 0, c1, .5, c2, 1.
    """
    if np.isscalar(c):
        y = (2.0 - 4.0 * c) * x * x + (4.0 * c - 1.0) * x
    else:
        c1, c2 = c
        spline = CubicSpline([0.0, 0.3, 0.5, 0.7, 1.0], [0.0, c1, 0.5, c2, 1.0])
        y = spline(x)
    return np.clip(y, 0.0, 1.0)


def _keys_weights(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keys cubic-convolution weights (a = -0.5) of the taps at -1, 0, 1, 2 for offsets t in [0, 1)."""
    tm1 = t - 1.0
    w0 = -0.5 * t * tm1 * tm1
    w2 = t * (0.5 + t * (2.0 - 1.5 * t))
    w3 = 0.5 * t * t * tm1
    return w0, 1.0 - w0 - w2 - w3, w2, w3  # the four weights sum to 1


def bicubic_sample(
    planes: np.ndarray, shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Bicubic resampling with a replicate border, channel-first and flattened.

    planes: (C, H*W) image (float32 or float64; the result has its dtype); rows, cols:
    (H*W,) real source coordinates of each output pixel. Returns (C, H*W). The 16 taps
    are gathered with ``take`` on flat indices, several times faster than fancy indexing
    of an HxWxC array.
    """
    h, w = shape
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    wr = [x.astype(planes.dtype) for x in _keys_weights(rows - r0)]
    wc = [x.astype(planes.dtype) for x in _keys_weights(cols - c0)]
    r0 = r0.astype(np.intp)
    c0 = c0.astype(np.intp)
    col_idx = [np.clip(c0 + (j - 1), 0, w - 1) for j in range(4)]
    out = np.zeros_like(planes)
    acc = np.empty_like(planes)
    tap = np.empty_like(planes)
    idx = np.empty(h * w, dtype=np.intp)
    for i in range(4):
        row_base = np.clip(r0 + (i - 1), 0, h - 1) * w
        acc.fill(0.0)
        for j in range(4):
            np.add(row_base, col_idx[j], out=idx)
            planes.take(idx, axis=1, out=tap)
            tap *= wc[j]
            acc += tap
        acc *= wr[i]
        out += acc
    return out


def shift_plane(plane: np.ndarray, shift: np.ndarray, exact: bool) -> np.ndarray:
    """``plane`` (H x W) moved by ``shift`` = (right, down) px with a replicated border:
    rounded to whole pixels (halves up) when ``exact`` (KADID's own geometry), else by
    Keys bicubic resampling at sub-pixel precision (a scaled shift keeps its length),
    clipped to [0, 1]."""
    h, w = plane.shape
    if exact:
        dx, dy = (int(v) for v in np.floor(shift + 0.5))
        return plane[np.clip(np.arange(h) - dy, 0, h - 1)][:, np.clip(np.arange(w) - dx, 0, w - 1)]
    rows, cols = np.divmod(np.arange(h * w, dtype=np.float64), w)
    flat = plane.reshape(1, h * w)
    moved = bicubic_sample(flat, (h, w), rows - shift[1], cols - shift[0]).reshape(h, w)
    return np.clip(moved, 0.0, 1.0)  # a shift adds no new values


def nearest_indices(n_out: int, n_in: int, ratio: float) -> np.ndarray:
    """Source index of each output sample of a nearest-neighbour resize (pixel centres aligned)."""
    return np.clip(np.floor((np.arange(n_out) + 0.5) / ratio).astype(np.intp), 0, n_in - 1)
