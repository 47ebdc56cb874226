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
