"""Procedural reference scenes with natural image statistics, drawn from a seed.

Every scene is rendered at twice the output side and averaged down 2 x 2 (anti-aliased
edges, as a lens and a sensor give), built in CIE Lab and returned as S x S x 3 uint8 RGB
stretched to span 0..255 (the 0.2 % darkest and brightest values clipped), so that the
distortion generator's own min-max normalisation leaves it unchanged and a distorted
image differs from its reference only by the distortion. Scenes:

Each scene's lightness L* is mapped so that its 1st and 99th percentiles fall at 6 and
94 (a full tonal range, as a well-exposed photograph has). Scenes:

* ``dead_leaves``: the texture chart of camera-quality testing. Occluding shapes (disks,
  squares or ellipses) fall on the canvas with radii of density r^-3 between r_min and
  r_max, which makes the picture scale invariant (a 1/f^2 power spectrum, sharp
  occlusion edges); each leaf gets a colour from a palette and a gentle shading ramp.
* ``landscape``: a sky with 1/f clouds, mountain ranges whose ridges are 1/f (fractional
  Brownian) curves, lit from one side and fading into the haze with distance, and a
  textured foreground.
* ``material``: 1/f^beta height fields rendered as surfaces lit from one side (rock,
  lichen, sand) or mapped through turbulence onto marble veins or wood rings.
* ``pebbles``: Voronoi cells rounded into lit pebbles with mortar between them.
* ``spheres``: dead leaves of lit spheres (fruit, marbles) with specular highlights.

Only NumPy and SciPy are used; the result depends on the seed alone.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .image_ops import lab_to_rgb, minmax, to_uint8

#: Lab (L, C, hue-degrees) ranges of the leaf palettes: (L lo, L hi, C lo, C hi, hue centre, hue spread)
PALETTES: dict[str, tuple[float, float, float, float, float, float]] = {
    "chart": (8, 96, 10, 75, 0, 180),       # every hue, strong colours (the camera chart)
    "earth": (12, 85, 5, 45, 60, 45),       # browns, ochres, olive
    "foliage": (10, 80, 15, 60, 120, 35),   # greens to yellow-greens
    "pastel": (45, 97, 5, 35, 0, 180),      # light, soft colours
    "autumn": (15, 80, 25, 80, 50, 35),     # reds, oranges, yellows
    "sea": (10, 90, 10, 55, 220, 40),       # blues, teals, some greys
}


def pink_noise(rng: np.random.Generator, side: int, beta: float = 1.0) -> np.ndarray:
    """side x side noise whose amplitude spectrum falls as 1/f^beta; zero mean, unit std."""
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** beta
    spec[0, 0] = 0.0
    out = np.fft.irfft2(spec, s=(side, side))
    return (out - out.mean()) / out.std()


def fbm_curve(rng: np.random.Generator, n: int, beta: float = 1.8) -> np.ndarray:
    """n samples of a 1-D 1/f^(beta/2)-amplitude curve (fractional Brownian), unit std."""
    f = np.fft.rfftfreq(n)
    f[0] = 1.0
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    spec[0] = 0.0
    out = np.fft.irfft(spec, n=n)
    return (out - out.mean()) / out.std()


def _lab_colour(rng: np.random.Generator, palette: str) -> np.ndarray:
    lo_l, hi_l, lo_c, hi_c, hue, spread = PALETTES[palette]
    lum = rng.uniform(lo_l, hi_l)
    chroma = rng.uniform(lo_c, hi_c) * min(1.0, lum / 40.0)  # dark colours are never vivid
    h = np.radians(hue + rng.uniform(-spread, spread))
    return np.array([lum, chroma * np.cos(h), chroma * np.sin(h)])


def _shade(normal_z: np.ndarray, nx: np.ndarray, ny: np.ndarray, light=(-0.5, -0.6, 0.62)) -> np.ndarray:
    """Lambertian shading (0..1) of unit normals (nx, ny, normal_z) under a fixed light."""
    lx, ly, lz = np.asarray(light) / np.linalg.norm(light)
    return np.clip(nx * lx + ny * ly + normal_z * lz, 0.0, 1.0)


def _height_shading(height: np.ndarray, relief: float) -> np.ndarray:
    """Lambertian shading of a height field seen from above (relief: slope gain)."""
    gy, gx = np.gradient(height * relief)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    return _shade(1.0 / norm, -gx / norm, -gy / norm)


def _leaf_mask(shape: str, yy, xx, r: float, angle: float, ratio: float) -> np.ndarray:
    if shape == "square":
        c, s = np.cos(angle), np.sin(angle)
        u, v = xx * c + yy * s, -xx * s + yy * c
        return (np.abs(u) <= r) & (np.abs(v) <= r * ratio)
    if shape == "ellipse":
        c, s = np.cos(angle), np.sin(angle)
        u, v = xx * c + yy * s, -xx * s + yy * c
        return (u / r) ** 2 + (v / (r * ratio)) ** 2 <= 1.0
    return xx * xx + yy * yy <= r * r


def dead_leaves(rng: np.random.Generator, side: int, palette: str = "chart", shape: str = "disk",
                r_min: float = 4.0, r_max: float = 160.0, max_leaves: int = 6000) -> np.ndarray:
    """A colour dead-leaves picture (Lab, side x side x 3): leaves drawn front to back, each
    filling only what is still uncovered, until the canvas is covered; specks left after
    ``max_leaves`` take the colour of their nearest leaf. Radii in px of this canvas."""
    lab = np.zeros((side, side, 3))
    covered = np.zeros((side, side), bool)
    a, b = r_min ** -2.0, r_max ** -2.0
    for _ in range(max_leaves):
        r = (a - rng.random() * (a - b)) ** -0.5  # density proportional to r^-3
        cy, cx = rng.uniform(-r, side + r, size=2)
        angle, ratio = rng.uniform(0, np.pi), rng.uniform(0.35, 1.0)
        colour = _lab_colour(rng, palette)
        ramp = rng.normal(0, 12.0, size=2)  # shading: L* change across one radius
        y0, y1 = max(0, int(cy - r) - 1), min(side, int(cy + r) + 2)
        x0, x1 = max(0, int(cx - r) - 1), min(side, int(cx + r) + 2)
        if y0 >= y1 or x0 >= x1:
            continue
        if covered[y0:y1, x0:x1].all():
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        yy, xx = yy - cy, xx - cx
        new = _leaf_mask(shape, yy, xx, r, angle, ratio) & ~covered[y0:y1, x0:x1]
        if not new.any():
            continue
        patch = lab[y0:y1, x0:x1]
        patch[new] = colour
        patch[new, 0] += ((ramp[0] * yy + ramp[1] * xx) / r)[new]
        covered[y0:y1, x0:x1] |= new
        if covered.all():
            break
    if not covered.all():  # the last specks take their nearest leaf's colour
        idx = ndimage.distance_transform_edt(~covered, return_distances=False, return_indices=True)
        lab = lab[idx[0], idx[1]]
    return lab


def landscape(rng: np.random.Generator, side: int) -> np.ndarray:
    """Sky, clouds, 3-4 mountain ranges fading into haze, a textured foreground (Lab)."""
    yy = np.linspace(0.0, 1.0, side)[:, None] * np.ones((1, side))
    horizon = rng.uniform(0.35, 0.55)
    sky_hue = np.radians(rng.uniform(215, 260))
    sky_c = rng.uniform(15, 45)
    t = np.clip(yy / horizon, 0, 1)
    lab = np.stack([55 + 35 * t, sky_c * (1 - t) * np.cos(sky_hue) * np.ones_like(t),
                    sky_c * (1 - t) * np.sin(sky_hue) * np.ones_like(t)], axis=-1)
    clouds = np.clip(pink_noise(rng, side, 1.3) - rng.uniform(0.2, 0.9), 0, None)
    cloud = np.clip(clouds * 0.9, 0, 1) * (yy < horizon + 0.1)
    lab[..., 0] += cloud * (98 - lab[..., 0]) * 0.9
    lab[..., 1:] *= (1 - cloud)[..., None]
    ranges = int(rng.integers(3, 5))
    haze = lab[int(horizon * side) - 1, side // 2].copy()
    for k in range(ranges):
        depth = (k + 1) / ranges  # 1: nearest
        ridge = horizon - 0.05 + 0.25 * depth + 0.08 * (1.2 - depth) * fbm_curve(rng, side, 2.2)
        height = pink_noise(rng, side, 2.0)
        shade = _height_shading(height, 30.0 + 120 * depth)
        base = _lab_colour(rng, "foliage" if rng.random() < 0.6 else "earth")
        other = _lab_colour(rng, "foliage")
        mix = np.clip(0.5 + 0.5 * pink_noise(rng, side, 1.0), 0, 1)[..., None] * depth
        col = base * (1 - mix) + other * mix
        col[..., 0] = col[..., 0] * (0.45 + 0.9 * shade)
        mix = (1 - depth) * 0.75  # far ranges fade into the haze
        col = col * (1 - mix) + haze * mix
        below = yy > ridge[None, :]
        lab[below] = col[below]
    return lab


def material(rng: np.random.Generator, side: int, kind: str) -> np.ndarray:
    """A lit 1/f surface: 'rock', 'lichen', 'sand', or a turbulence-mapped 'marble' or 'wood' (Lab)."""
    height = pink_noise(rng, side, {"sand": 1.8}.get(kind, 2.0))
    c1, c2 = _lab_colour(rng, "earth"), _lab_colour(rng, "chart" if kind == "lichen" else "earth")
    yy, xx = np.mgrid[0:side, 0:side] / side
    if kind == "marble":
        f = rng.uniform(3, 7)
        turb = pink_noise(rng, side, 1.8)
        mix = np.abs(np.sin(np.pi * f * (xx * np.cos(1.0) + yy * np.sin(1.0)) + 1.2 * turb))
        mix = (1 - mix) ** 3
        hue, chroma = rng.uniform(0, 2 * np.pi), rng.uniform(8, 18)  # a tinted stone
        c1 = np.array([rng.uniform(75, 92), chroma * np.cos(hue), chroma * np.sin(hue)])
    elif kind == "wood":
        cy, cx = rng.uniform(-1.5, 2.5, size=2)
        grain = pink_noise(rng, side, 2.2)
        rings = np.hypot((yy - cy) * 0.2, xx - cx) * rng.uniform(10, 18) + 0.35 * grain
        mix = (rings - np.floor(rings)) ** 3
        c1 = np.array([rng.uniform(60, 78), rng.uniform(8, 16), rng.uniform(25, 38)])
        c2 = c1 * np.array([0.5, 1.4, 1.2])
    else:
        mix = np.clip(0.5 + 0.6 * pink_noise(rng, side, 1.1), 0, 1)
        if kind == "lichen":
            mix = (mix > 0.62).astype(float) * mix
    lab = c1 * (1 - mix[..., None]) + c2 * mix[..., None]
    relief = {"rock": 250.0, "lichen": 150.0, "sand": 80.0}.get(kind, 20.0)
    lab[..., 0] *= 0.35 + 0.9 * _height_shading(height, relief)
    return lab


def pebbles(rng: np.random.Generator, side: int, count: int = 60) -> np.ndarray:
    """Voronoi cells rounded into pebbles lit from one side, dark mortar between (Lab)."""
    pts = rng.uniform(0, side, size=(count, 2))
    yy, xx = np.mgrid[0:side, 0:side]
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    two = np.partition(d, 1, axis=-1)[..., :2]
    label = np.argmin(d, axis=-1)
    edge = np.sqrt(two[..., 1]) - np.sqrt(two[..., 0])  # ~ twice the distance to the cell border
    height = np.sqrt(np.clip(edge / edge.max(), 0, None)) * side / 10 + 3.0 * pink_noise(rng, side, 1.8)
    colours = np.stack([_lab_colour(rng, "earth") for _ in range(count)])
    lab = colours[label]
    lab[..., 0] *= 0.3 + 0.9 * _height_shading(height, 1.0)
    lab[..., 0] *= np.clip(edge / 6.0, 0.15, 1.0)  # mortar
    return lab


def spheres(rng: np.random.Generator, side: int, palette: str = "autumn", count: int = 400) -> np.ndarray:
    """Dead leaves of lit spheres with specular highlights on a dark ground (Lab)."""
    lab = np.zeros((side, side, 3))
    lab[..., 0] = 8 + 4 * pink_noise(rng, side, 1.5)
    depth = np.full((side, side), -np.inf)
    for k in range(count):
        r = (side / 24) ** -2.0 - rng.random() * ((side / 24) ** -2.0 - (side / 5) ** -2.0)
        r = r ** -0.5
        cy, cx = rng.uniform(-r / 2, side + r / 2, size=2)
        y0, y1 = max(0, int(cy - r)), min(side, int(cy + r) + 1)
        x0, x1 = max(0, int(cx - r)), min(side, int(cx + r) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        ny, nx = (yy - cy) / r, (xx - cx) / r
        nz2 = 1 - nx * nx - ny * ny
        z = k + np.sqrt(np.clip(nz2, 0, None))  # later spheres lie on top
        draw = (nz2 > 0) & (z > depth[y0:y1, x0:x1])
        nz = np.sqrt(np.clip(nz2, 0, 1))
        diffuse = _shade(nz, nx, ny)
        spec = _shade(nz, nx, ny, light=(-0.3, -0.4, 0.87)) ** 40
        colour = _lab_colour(rng, palette)
        patch = lab[y0:y1, x0:x1]
        patch[draw, 0] = colour[0] * (0.2 + 0.85 * diffuse[draw]) + 60 * spec[draw]
        patch[draw, 1:] = colour[1:] * (1 - spec[draw, None])
        depth[y0:y1, x0:x1][draw] = z[draw]
    return lab


def render(scene: str, seed_key: list[int], side: int, **params) -> np.ndarray:
    """Scene ``scene`` ('dead_leaves', 'landscape', 'material', 'pebbles', 'spheres') drawn
    from ``np.random.default_rng(seed_key)`` at 2 x ``side`` and averaged down 2 x 2:
    side x side x 3 uint8 RGB spanning 0..255. ``params`` go to the scene function."""
    rng = np.random.default_rng(seed_key)
    big = 2 * side
    make = {"dead_leaves": dead_leaves, "landscape": landscape, "material": material,
             "pebbles": pebbles, "spheres": spheres}[scene]
    lab = make(rng, big, **params)
    lo, hi = np.percentile(lab[..., 0], [1, 99])  # lightness from deep shadow to highlight
    lab[..., 0] = np.clip(6.0 + (lab[..., 0] - lo) * (88.0 / max(hi - lo, 1e-6)), 0, 100)
    rgb = np.clip(lab_to_rgb(lab), 0.0, 1.0)
    rgb = rgb.reshape(side, 2, side, 2, 3).mean(axis=(1, 3))
    lo, hi = np.percentile(rgb, [0.2, 99.8])  # a full tonal range, a few pixels clipped
    return to_uint8(minmax(np.clip(rgb, lo, hi)))
