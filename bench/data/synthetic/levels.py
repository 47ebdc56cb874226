"""The level parameters of the synthetic suite: KADID-10k's operations, calibrated for
192 px references.

KADID-10k's own parameters (:data:`~bench.data.synthetic.distortions.KADID_LEVELS`) are
set for 512 x 384 pictures. At 192 px, with pixel sizes scaled by 192/512, several levels
do nothing or do the same as their neighbour (a 0.04 px Gaussian blur, a 0.375 px disk,
a colour shift that rounds to no pixel), and the two-sided types (mean shift, contrast
change) get better, not worse, half way through. Each type below keeps its operation;
only its five parameters change, in the units of ``KADID_LEVELS`` (pixel sizes at 512
px, scaled at run time). They were chosen on the 32 references of syn-kadid (seed 0) so
that the pseudo-MOS falls with every level step on every reference, by at least 0.005;
docs/distortions.md gives each change and its reason. Types not listed keep KADID's
parameters, which already do so.
"""
from __future__ import annotations

from .distortions import KADID_LEVELS

_CHANGED: dict[int, tuple] = {
    1: (1.3, 2, 2.7, 3.6, 5),            # Gaussian blur sigma (0.1 and 0.5 are no-ops at 192 px)
    2: (2, 3, 4, 6, 8),                  # lens blur radius (r 1 is a 1-cell disk at 192 px)
    3: (3, 8, 12, 15, 18),               # motion blur length (1 is no blur; 2-4 barely differ)
    4: (1, 1.5, 2, 2.5, 4),              # colour diffusion A (6-12 saturate: every image near 0)
    5: (1, 2.5, 4, 6, 10),               # colour shift px (sub-pixel at 192 px, see docs)
    6: (48, 32, 24, 12, 6),              # colour quantization colours (64 and 48 tie)
    7: (0.6, 0.4, 0.2, 0.1, 0.0),        # HSV saturation factor (-0.4 beat 0 on some refs)
    8: (1.5, 2, 2.5, 3, 5),              # Lab chroma factor (1 is a no-op; 6 and 9 saturate)
    10: (50, 30, 18, 10, 4),             # JPEG quality (43 and 36 barely differ; tied on flat tiles)
    18: (0.03, 0.06, 0.09, 0.12, 0.15),  # mean shift A: one-sided, growing
    19: (0.2, 0.5, 1, 1.5, 2),           # jitter px (0.05 and 0.1 barely differ at 192 px)
    20: (20, 60, 130, 160, 250),         # patches (60 -> 80 barely differ on flat refs)
    21: (0.0119, 0.0424, 0.1994, 0.315, 0.6192),  # pixelate s (monotone ratios, see docs)
    23: (2, 4, 6, 10, 14),               # colour blocks (wider steps)
    25: (-0.3, -0.4, -0.5, -0.6, -0.7),  # contrast change A: one-sided, falling contrast
}

#: {KADID type id: five level parameters} used by every synthetic set
SUITE_LEVELS: dict[int, tuple] = {t: _CHANGED.get(t, p) for t, p in KADID_LEVELS.items()}
