"""The 25 KADID-10k distortions at their five official levels (or a table of calibrated
ones, see levels.py), in NumPy/SciPy/Pillow.

Implemented from the facts-only specification ``docs/distortions.md`` (the official
MATLAB generator's operations and level parameters). Common rules, as there:

* the input is min-max normalised globally (one min and max over all channels) to
  [0, 1] and the distorted result is min-max normalised again (the re-stretch that
  matters for mean shift and saturation);
* filters use replicate borders; Gaussian kernels have size 2*ceil(2 sigma)+1;
* Lab is CIE L*a*b* of sRGB with a D65 white; YCbCr is BT.601 studio range;
* every random draw comes from the caller's ``numpy.random.Generator``.

Choices where the specification leaves room or the official tools are not available:

* denoise (15): the official code uses MATLAB's pretrained DnCNN; here a classical
  adaptive Wiener filter (local mean/variance over a 5x5 window, the known noise
  variance, as MATLAB's ``wiener2``) runs per channel on the noisy image, which is
  clipped to [0, 1] first as MATLAB's ``imnoise`` does;
* colour quantization (6): the official code uses MATLAB's minimum-variance
  quantization; here Pillow's fast-octree palette (``Image.Quantize.FASTOCTREE``) and
  then Floyd-Steinberg dithering onto that palette. Of Pillow's RGB quantizers it gives
  the smallest squared error (the quantity minimum-variance quantization minimises) and
  takes under a millisecond, where median cut takes about 30 ms at 192x192;
* JPEG (10) and JPEG 2000 (9) use Pillow in memory (libjpeg at Pillow's default 4:2:0
  chroma subsampling; OpenJPEG with the irreversible 9/7 wavelet and the colour
  transform, written as a bare J2K codestream whose size is the raw RGB size divided
  by the compression ratio);
* motion blur (3): each kernel cell weighs max(0, 1 - its distance to a segment of
  length len - 1 px through the centre), a one-pixel-wide anti-aliased line whose
  total extent is len px (len 5 at 0 degrees is five taps of 0.2); angles run
  counter-clockwise;
* colour shift (5): u = (right, down); the shifted green channel replicates its border;
  at scale 1 the shift is rounded to whole pixels (one that rounds to 0 px leaves the
  image as it is), at other scales it is applied at sub-pixel precision (bicubic,
  clipped to [0, 1]): rounding a scaled shift would make neighbouring levels equal;
* jitter (19): bicubic is Keys' cubic convolution (a = -0.5), as MATLAB's 'cubic'; each
  warp is clipped to [0, 1], so that an overshoot does not become, through the final
  re-stretch, a global contrast change;
* non-eccentricity patch (20): the paste offset is a uniform integer in [-8, 8] px;
* pixelate (21): nearest-neighbour with aligned pixel centres, down to ceil(z H) x
  ceil(z W) and back to H x W;
* quantization (22): thresholds are bin centres of a 256-bin histogram spanning the
  pooled values' range (see :mod:`bench.data.synthetic.otsu`).

Sizes in pixels refer to the 512x384 KADID images. ``scale`` (image width / 512)
multiplies every pixel-sized parameter: Gaussian blur sigma (1), disk radius (2),
motion path length len-1 (3), colour-diffusion sigma (4), colour-shift amount and its
edge-map sigma 4 (5), jitter amplitude (19), non-eccentricity patch size, border
margin and offset 16/16/8 (20), colour-block size 32 (23) and sharpening sigma 3 (24).
Integer sizes are rounded and kept at least 1 px. Pixelate (21) is a ratio and the
others have no geometry, so they are unaffected.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from bench.data.synthetic.otsu import multiotsu_thresholds

from .image_ops import (
    GRAY,
    bicubic_sample,
    curves,
    disk_kernel,
    filter2d,
    from_pil,
    gaussian_blur_px,
    lab_to_rgb,
    line_kernel,
    minmax,
    nearest_indices,
    rgb_to_lab,
    rgb_to_ycbcr,
    scaled_px,
    shift_plane,
    to_uint8,
    ycbcr_to_rgb,
)

__all__ = ["KADID_LEVELS", "apply_distortion", "distort", "to_uint8"]

KADID_LEVELS: dict[int, tuple] = {
    1: (0.1, 0.5, 1, 2, 5),  # Gaussian blur: sigma px
    2: (1, 2, 4, 6, 8),  # lens blur: disk radius px
    3: (1, 2, 4, 6, 10),  # motion blur: line length px (1 = no blur)
    4: (1, 3, 6, 8, 12),  # colour diffusion: amount A
    5: (1, 3, 6, 8, 12),  # colour shift: shift px
    6: (64, 48, 32, 16, 8),  # colour quantization: colours
    7: (0.4, 0.2, 0.1, 0, -0.4),  # colour saturation 1: HSV saturation factor
    8: (1, 2, 3, 6, 9),  # colour saturation 2: Lab chroma factor
    9: (16, 32, 45, 120, 400),  # JPEG 2000: compression ratio
    10: (43, 36, 24, 7, 4),  # JPEG: quality
    11: (0.001, 0.002, 0.003, 0.005, 0.01),  # white noise: variance
    12: (0.0001, 0.0005, 0.001, 0.002, 0.003),  # white noise in YCbCr: variance
    13: (0.001, 0.005, 0.01, 0.02, 0.03),  # impulse noise: density
    14: (0.001, 0.005, 0.01, 0.02, 0.05),  # multiplicative noise: variance
    15: (0.01, 0.03, 0.05, 0.1, 0.15),  # denoise: noise variance
    16: (0.1, 0.2, 0.4, 0.7, 1.1),  # brighten: amount A
    17: (0.05, 0.1, 0.2, 0.4, 0.8),  # darken: amount A
    18: (0.15, 0.08, 0, -0.08, -0.15),  # mean shift: offset A
    19: (0.05, 0.1, 0.2, 0.5, 1),  # jitter: displacement std px
    20: (20, 40, 60, 80, 100),  # non-eccentricity patch: number of patches
    21: (0.01, 0.05, 0.1, 0.2, 0.5),  # pixelate: strength s
    22: (20, 16, 13, 10, 7),  # quantization: number of thresholds
    23: (2, 4, 6, 8, 10),  # colour block: number of blocks
    24: (1, 2, 3, 6, 12),  # high sharpen: unsharp amount
    25: (0.3, 0.15, 0, -0.4, -0.6),  # contrast change: amount A
}

# ------------------------------------------------------------------- the operations
# Each takes (image HxWx3 in [0, 1], level parameter, rng, scale) and returns HxWx3;
# the caller re-stretches the result to [0, 1].


def _gaussian_blur(img, sigma, rng, scale):
    return gaussian_blur_px(img, sigma * scale)


def _lens_blur(img, radius, rng, scale):
    return filter2d(img, disk_kernel(radius * scale))


def _motion_blur(img, length, rng, scale):
    angle = int(rng.integers(0, 181))
    half = (length - 1) * scale / 2.0
    return filter2d(img, line_kernel(half, float(angle)))


def _color_diffusion(img, amount, rng, scale):
    lab = rgb_to_lab(img)
    chroma = gaussian_blur_px(lab[..., 1:], (1.5 * amount + 2.0) * scale)
    lab[..., 1:] = chroma * amount
    return np.clip(lab_to_rgb(lab), 0.0, 1.0)


def _color_shift(img, amount, rng, scale):
    u = rng.random(2)
    norm = float(np.hypot(*u))
    direction = u / norm if norm > 0 else np.array([1.0, 0.0])
    shift = amount * scale * direction  # (right, down) px

    gray = img @ GRAY
    grad = np.hypot(
        ndimage.sobel(gray, axis=0, mode="nearest"), ndimage.sobel(gray, axis=1, mode="nearest")
    )
    edge = minmax(gaussian_blur_px(grad, 4.0 * scale))
    edge = np.clip(edge, 0.1, 1.0)
    lo, hi = np.percentile(edge, [1, 99], method="hazen")  # MATLAB prctile's definition
    edge = minmax(np.clip(edge, lo, hi))

    green = img[..., 1]
    shifted = shift_plane(green, shift, exact=scale == 1.0)
    out = img.copy()
    out[..., 1] = edge * shifted + (1.0 - edge) * green
    return out


def _color_quantization(img, n_colors, rng, scale):
    pil = Image.fromarray(to_uint8(img))
    palette = pil.quantize(
        colors=int(n_colors), method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    # Pillow applies dithering only when mapping onto a given palette, hence two steps.
    return from_pil(pil.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG))


def _saturation_hsv(img, factor, rng, scale):
    # In HSV each channel is V * (1 - S * g(H)) with V = max(R, G, B); scaling S by f
    # therefore gives V + f * (channel - V) exactly, without the HSV round trip.
    v = img.max(axis=2, keepdims=True)
    return v + factor * (img - v)


def _saturation_lab(img, factor, rng, scale):
    lab = rgb_to_lab(img)
    lab[..., 1:] *= factor
    return np.clip(lab_to_rgb(lab), 0.0, 1.0)


def _jpeg2000(img, ratio, rng, scale):
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(
        buf,
        format="JPEG2000",
        no_jp2=True,  # a bare codestream: the JP2 boxes would eat a tenth of a small image's budget
        quality_mode="rates",
        quality_layers=[float(ratio)],
        irreversible=True,
        mct=1,
    )
    buf.seek(0)
    return from_pil(Image.open(buf))


def _jpeg(img, quality, rng, scale):
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return from_pil(Image.open(buf))


def _white_noise(img, var, rng, scale):
    return np.clip(img + rng.normal(0.0, math.sqrt(var), img.shape), 0.0, 1.0)


def _white_noise_ycbcr(img, var, rng, scale):
    ycc = np.clip(rgb_to_ycbcr(img) + rng.normal(0.0, math.sqrt(var), img.shape), 0.0, 1.0)
    return np.clip(ycbcr_to_rgb(ycc), 0.0, 1.0)


def _impulse_noise(img, density, rng, scale):
    u = rng.random(img.shape)
    out = img.copy()
    out[u < density / 2] = 0.0
    out[(u >= density / 2) & (u < density)] = 1.0
    return out


def _multiplicative_noise(img, var, rng, scale):
    noise = (rng.random(img.shape) - 0.5) * math.sqrt(12.0 * var)  # uniform, mean 0, variance var
    return np.clip(img + noise * img, 0.0, 1.0)


def _wiener(img: np.ndarray, noise_var: float, size: int = 5) -> np.ndarray:
    """Adaptive (local-statistics) Wiener filter per channel with a known noise variance."""
    win = (size, size, 1)
    mean = ndimage.uniform_filter(img, win, mode="nearest")
    var = np.maximum(ndimage.uniform_filter(img * img, win, mode="nearest") - mean * mean, 0.0)
    gain = np.maximum(var - noise_var, 0.0) / np.maximum(var, noise_var)
    return mean + gain * (img - mean)


def _denoise(img, var, rng, scale):
    noisy = np.clip(img + rng.normal(0.0, math.sqrt(var), img.shape), 0.0, 1.0)
    return np.clip(_wiener(noisy, var), 0.0, 1.0)


def _brighten(img, amount, rng, scale):
    c = 0.5 + amount / 2.0
    per_channel = curves(img, c)
    lab = rgb_to_lab(img)
    lab[..., 0] = 100.0 * curves(lab[..., 0] / 100.0, c)
    on_lightness = np.clip(lab_to_rgb(lab), 0.0, 1.0)
    return (2.0 * per_channel + on_lightness) / 3.0


def _darken(img, amount, rng, scale):
    return curves(img, 0.5 - amount / 2.0)


def _mean_shift(img, amount, rng, scale):
    return np.clip(img + amount, 0.0, 1.0)


def _jitter(img, amount, rng, scale):
    h, w, c = img.shape
    rows, cols = np.divmod(np.arange(h * w, dtype=np.float64), w)
    sd = amount * scale
    # float32 resampling is a third faster; its error (~1e-7) is far below 1/255.
    planes = np.ascontiguousarray(np.moveaxis(img, 2, 0), dtype=np.float32).reshape(c, h * w)
    for _ in range(5):
        dy = rng.normal(0.0, sd, h * w)
        dx = rng.normal(0.0, sd, h * w)
        # clipped: an overshoot of Keys' kernel would become, through the final min-max
        # stretch, a global contrast change set by the noise draw rather than the level
        planes = np.clip(bicubic_sample(planes, (h, w), rows + dy, cols + dx), 0.0, 1.0)
    return np.moveaxis(planes.reshape(c, h, w), 0, 2).astype(np.float64)


def _non_eccentricity_patch(img, n_patches, rng, scale):
    h, w, _ = img.shape
    size = min(scaled_px(16, scale), h, w)
    margin = scaled_px(16, scale)
    reach = scaled_px(8, scale)
    out = img.copy()

    def start_range(extent):
        lo = min(margin, extent - size)
        return lo, max(lo, extent - size - margin)

    (r_lo, r_hi), (c_lo, c_hi) = start_range(h), start_range(w)
    for _ in range(int(n_patches)):
        r = int(rng.integers(r_lo, r_hi + 1))
        c = int(rng.integers(c_lo, c_hi + 1))
        patch = out[r : r + size, c : c + size].copy()
        r2 = int(np.clip(r + rng.integers(-reach, reach + 1), 0, h - size))
        c2 = int(np.clip(c + rng.integers(-reach, reach + 1), 0, w - size))
        out[r2 : r2 + size, c2 : c2 + size] = patch
    return out


def _pixelate(img, strength, rng, scale):
    h, w, _ = img.shape
    z = 0.95 - strength**0.6
    hs, ws = max(1, math.ceil(z * h)), max(1, math.ceil(z * w))
    small = img[nearest_indices(hs, h, z)][:, nearest_indices(ws, w, z)]
    return small[nearest_indices(h, hs, h / hs)][:, nearest_indices(w, ws, w / ws)]


def _quantization(img, n_thresholds, rng, scale):
    t = multiotsu_thresholds(img, int(n_thresholds))
    # x <= t1 -> 0, (t_{k-1}, t_k] -> t_k, x > tN -> 1
    values = np.concatenate(([0.0], t[1:], [1.0]))
    return values[np.searchsorted(t, img, side="left")]


def _color_block(img, n_blocks, rng, scale):
    h, w, _ = img.shape
    size = min(scaled_px(32, scale), h, w)
    out = img.copy()
    for _ in range(int(n_blocks)):
        colour = rng.random(3)
        r = int(rng.integers(0, h - size + 1))
        c = int(rng.integers(0, w - size + 1))
        out[r : r + size, c : c + size] = colour
    return out


def _high_sharpen(img, amount, rng, scale):
    lab = rgb_to_lab(img)
    lightness = lab[..., 0]
    lab[..., 0] = lightness + amount * (lightness - gaussian_blur_px(lightness, 3.0 * scale))
    return np.clip(lab_to_rgb(lab), 0.0, 1.0)


def _contrast_change(img, amount, rng, scale):
    return curves(img, (0.25 - amount / 4.0, 0.75 + amount / 4.0))


_Operation = Callable[[np.ndarray, float, np.random.Generator, float], np.ndarray]

_OPERATIONS: dict[int, _Operation] = {
    1: _gaussian_blur, 2: _lens_blur, 3: _motion_blur, 4: _color_diffusion,
    5: _color_shift, 6: _color_quantization, 7: _saturation_hsv, 8: _saturation_lab,
    9: _jpeg2000, 10: _jpeg, 11: _white_noise, 12: _white_noise_ycbcr,
    13: _impulse_noise, 14: _multiplicative_noise, 15: _denoise, 16: _brighten,
    17: _darken, 18: _mean_shift, 19: _jitter, 20: _non_eccentricity_patch,
    21: _pixelate, 22: _quantization, 23: _color_block, 24: _high_sharpen,
    25: _contrast_change,
}


def _check_type(type_id) -> int:
    if (
        isinstance(type_id, bool)
        or not isinstance(type_id, (int, np.integer))
        or type_id not in _OPERATIONS
    ):
        raise ValueError(f"type_id must be an integer in 1..25, got {type_id!r}")
    return int(type_id)


def apply_distortion(
    image: np.ndarray, type_id: int, param, rng: np.random.Generator, scale: float = 1.0
) -> np.ndarray:
    """KADID-10k distortion ``type_id`` (1..25) with the level parameter ``param`` itself
    (in the units of :data:`KADID_LEVELS`, pixel sizes at 512 px) instead of a level.

    Same image, rng and scale rules as :func:`distort`, which calls it; returns float64
    HxWx3 in [0, 1], min-max re-stretched globally.
    """
    type_id = _check_type(type_id)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"image must be HxWx3, got shape {x.shape}")
    out = _OPERATIONS[type_id](minmax(x), param, rng, float(scale))
    return minmax(out)


def distort(
    image: np.ndarray, type_id: int, level: int, rng: np.random.Generator, scale: float = 1.0,
    levels: dict[int, tuple] | None = None,
) -> np.ndarray:
    """Apply KADID-10k distortion ``type_id`` (1..25) at ``level`` (1..5) to an RGB image.

    image: HxWx3 RGB, float, nominally in [0, 1]; it is min-max normalised globally first.
    rng: the only source of randomness; the same generator state gives identical output.
    scale: image width / 512; multiplies the pixel-sized parameters (see the module
        docstring for which), so 1.0 reproduces KADID's 512x384 geometry.
    levels: {type id: five level parameters}; None: :data:`KADID_LEVELS`, the official
        ones (the synthetic suite passes its calibrated table, see ``levels.py``).
    Returns float64 HxWx3 in [0, 1], min-max re-stretched globally (uint8 via :func:`to_uint8`).
    Raises ValueError for an unknown type, a level outside 1..5, a non-RGB image or a
    non-positive scale; TypeError when rng is not a Generator.
    """
    type_id = _check_type(type_id)
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= 5:
        raise ValueError(f"level must be an integer in 1..5, got {level!r}")
    param = (KADID_LEVELS if levels is None else levels)[type_id][int(level) - 1]
    return apply_distortion(image, type_id, param, rng, scale)
