"""Reference crops for the synthetic suite, cut from images shipped inside scikit-image.

The three sets draw on disjoint source images (syn-wild shares no content with syn-kadid;
syn-mlive uses other crops of syn-kadid's sources, as MLIVE is extra *training* data).
Gray sources are made RGB by repeating the channel.
"""
from __future__ import annotations

import numpy as np

# scikit-image data functions that ship with the package (no download).
KADID_SOURCES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                 "camera", "moon", "brick", "coins", "grass", "colorwheel", "text"]
WILD_SOURCES = ["hubble_deep_field", "retina", "stereo_motorcycle", "gravel", "clock",
                "cell", "page", "microaneurysms"]

CROP = 192  # px, side of every synthetic image


def _load_source(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle returns (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype.kind == "f":  # shepp_logan_phantom: float in [0, 1]
        img = np.round(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:  # logo: RGBA, composited over white
        alpha = img[..., 3:].astype(np.float64) / 255.0
        img = np.round(img[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img[..., :3].astype(np.uint8)


def _fit_short_side(img: np.ndarray, side: int) -> np.ndarray:
    """Resize (area filter) so the short side is ``side`` px when it is larger; HxWx3 uint8."""
    from PIL import Image

    h, w = img.shape[:2]
    short = min(h, w)
    if short <= side:
        if short < CROP:  # upscale tiny sources just enough for one crop
            f = CROP / short
            return np.asarray(Image.fromarray(img).resize((round(w * f) + 1, round(h * f) + 1),
                                                          Image.BICUBIC))
        return img
    f = side / short
    return np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), Image.BOX))


def reference_crops(sources: list[str], per_source: int, seed: int,
                    fit_side: int = 288) -> list[tuple[str, np.ndarray]]:
    """``per_source`` crops (CROP x CROP x 3 uint8) from each source, deterministic in
    ``seed``; returns (source name + crop index, crop) pairs in a fixed order."""
    rng = np.random.default_rng(seed)
    out = []
    for name in sources:
        img = _fit_short_side(_load_source(name), fit_side)
        h, w = img.shape[:2]
        for k in range(per_source):
            y = int(rng.integers(0, h - CROP + 1))
            x = int(rng.integers(0, w - CROP + 1))
            out.append((f"{name}-{k}", np.ascontiguousarray(img[y:y + CROP, x:x + CROP])))
    return out



def _short_side_to(img: np.ndarray, side: int) -> np.ndarray:
    """HxWx3 uint8 resized (aspect kept) so its short side is exactly ``side`` px: PIL's
    area filter when shrinking, bicubic when enlarging."""
    from PIL import Image

    h, w = img.shape[:2]
    if min(h, w) == side:
        return img
    f = side / min(h, w)
    size = (max(side, round(w * f)), max(side, round(h * f)))
    return np.asarray(Image.fromarray(img).resize(size, Image.BOX if f < 1 else Image.BICUBIC))


def tile_crops(name: str, tiles: int, seed: int, side: int | None = None,
               box: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)) -> list[tuple[str, np.ndarray]]:
    """``tiles`` NON-overlapping CROP x CROP x 3 uint8 crops of source ``name``.

    The part ``box`` = (top, bottom, left, right), fractions of the picture's height and
    width, is cut out, its short side brought to ``side`` px (None: kept), and cut into a
    grid of CROP-px tiles whose offset is drawn from ``seed``; the ``tiles`` busiest ones
    (highest gray-level standard deviation, ties by grid position) are kept, in grid
    order. Returns (name + tile index, crop) pairs; ValueError when there are too few."""
    img = _load_source(name)
    h, w = img.shape[:2]
    top, bottom, left, right = box
    img = img[round(top * h):round(bottom * h), round(left * w):round(right * w)]
    if side is not None:
        img = _short_side_to(img, side)
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    oy = int(rng.integers(0, h % CROP + 1))
    ox = int(rng.integers(0, w % CROP + 1))
    grid = [(oy + CROP * i, ox + CROP * j) for i in range(h // CROP) for j in range(w // CROP)]
    if len(grid) < tiles:
        raise ValueError(f"source {name} has {len(grid)} tiles of {CROP} px, not {tiles}")
    spread = [float(img[y:y + CROP, x:x + CROP].mean(axis=2).std()) for y, x in grid]
    keep = sorted(sorted(range(len(grid)), key=lambda k: -spread[k])[:tiles])
    return [(f"{name}-{k}", np.ascontiguousarray(img[y:y + CROP, x:x + CROP]))
            for k, (y, x) in enumerate(grid[i] for i in keep)]
