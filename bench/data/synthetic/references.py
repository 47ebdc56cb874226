"""The references of the synthetic suite: hand-picked crops of the colour photographs that
ship inside scikit-image, and procedural scenes with natural image statistics
(:mod:`~bench.data.synthetic.procedural`), every one 192 x 192 x 3 uint8 in colour and
stretched to span 0..255 (see :func:`full_range`).

The sets draw on disjoint content: syn-kadid has astronaut, coffee, chelsea, rocket and
immunohistochemistry, syn-wild the motorcycle, Hubble deep field and retina pictures,
and each set's procedural scenes are drawn from a stream of its own (no two sets share a
scene). syn-mlive uses other crops of syn-kadid's pictures and scenes of its own stream,
as MLIVE is extra *training* data. Crops of one picture were chosen where the content
really differs (a face, a flag, a model shuttle, a mission patch), or show the whole
picture at a smaller scale (``side``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CROP = 192  # px, side of every synthetic image


@dataclass(frozen=True)
class Photo:
    """A CROP-px crop at (top, left) of a scikit-image picture whose short side is first
    brought to ``side`` px (None: native resolution)."""

    picture: str
    top: int
    left: int
    side: int | None = None

    @property
    def name(self) -> str:
        return f"{self.picture}@{self.top},{self.left}" + (f"/{self.side}" if self.side else "")


@dataclass(frozen=True)
class Scene:
    """A procedural scene (see :func:`~bench.data.synthetic.procedural.render`)."""

    scene: str
    params: dict = field(default_factory=dict, hash=False)

    @property
    def name(self) -> str:
        return "+".join([self.scene, *(str(v) for v in self.params.values())])


def _leaves(palette: str, shape: str = "disk") -> Scene:
    return Scene("dead_leaves", {"palette": palette, "shape": shape})


_SCENES: tuple[Scene, ...] = (
    _leaves("chart"), _leaves("earth", "square"), _leaves("foliage", "ellipse"), _leaves("pastel"),
    _leaves("autumn", "ellipse"), _leaves("sea", "square"),
    Scene("landscape"), Scene("landscape"), Scene("landscape"),
    Scene("material", {"kind": "rock"}), Scene("material", {"kind": "lichen"}),
    Scene("material", {"kind": "sand"}), Scene("material", {"kind": "marble"}),
    Scene("material", {"kind": "wood"}), Scene("pebbles"),
    Scene("spheres", {"palette": "autumn"}), Scene("spheres", {"palette": "chart"}),
)

#: syn-kadid: 15 photograph crops and 17 procedural scenes (32 references, all in colour)
KADID_REFS: tuple = (
    Photo("astronaut", 20, 150), Photo("astronaut", 0, 0), Photo("astronaut", 10, 320),
    Photo("astronaut", 300, 110), Photo("coffee", 40, 180), Photo("coffee", 200, 300),
    Photo("coffee", 0, 408), Photo("coffee", 0, 48, 192), Photo("chelsea", 60, 110),
    Photo("chelsea", 0, 48, 192), Photo("rocket", 100, 220), Photo("rocket", 235, 300),
    Photo("immunohistochemistry", 100, 100), Photo("immunohistochemistry", 0, 0, 192),
    Photo("rocket", 0, 0, 192),
) + _SCENES
#: syn-wild: 7 photograph crops (disjoint pictures) and 9 scenes of its own stream
WILD_REFS: tuple = (
    Photo("stereo_motorcycle", 150, 300), Photo("stereo_motorcycle", 250, 100),
    Photo("stereo_motorcycle", 250, 480), Photo("stereo_motorcycle", 60, 380),
    Photo("stereo_motorcycle", 0, 40, 192), Photo("hubble_deep_field", 68, 272),
    Photo("retina", 0, 0, 192),
) + _SCENES[::2]
#: syn-mlive: other crops of syn-kadid's pictures and 3 scenes of its own stream
MLIVE_REFS: tuple = (
    Photo("astronaut", 320, 300), Photo("chelsea", 100, 250), Photo("immunohistochemistry", 300, 300),
    _SCENES[0], _SCENES[6], _SCENES[15],
)
#: the scikit-image pictures syn-kadid's references are cut from
KADID_PICTURES: frozenset = frozenset(r.picture for r in KADID_REFS if isinstance(r, Photo))


def full_range(img: np.ndarray, tail: float = 0.2) -> np.ndarray:
    """``img`` (uint8 H x W x 3) stretched to span 0..255: the ``tail`` % darkest and
    brightest channel values are clipped, then one min and max over all channels map to
    0 and 255 (the generator's own normalisation then leaves the reference unchanged)."""
    x = img.astype(np.float64)
    lo, hi = np.percentile(x, [tail, 100.0 - tail])
    if hi <= lo:
        return img
    return np.clip(np.floor((np.clip(x, lo, hi) - lo) * (255.0 / (hi - lo)) + 0.5), 0, 255).astype(np.uint8)


def build_reference(spec, key: list[int]) -> np.ndarray:
    """The CROP x CROP x 3 uint8 reference of ``spec`` (a Photo or a Scene; a scene is drawn
    from the seed sequence ``key``), stretched by :func:`full_range`."""
    if isinstance(spec, Scene):
        from .procedural import render

        return full_range(render(spec.scene, key, CROP, **spec.params))
    img = _load_source(spec.picture)
    if spec.side is not None:
        img = _short_side_to(img, spec.side)
    crop = img[spec.top:spec.top + CROP, spec.left:spec.left + CROP]
    if crop.shape != (CROP, CROP, 3):
        raise ValueError(f"crop {spec.name} leaves the picture ({crop.shape[:2]})")
    return full_range(np.ascontiguousarray(crop))


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
