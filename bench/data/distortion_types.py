"""Distortion type tables of TID2013 (24) and KADID-10k (25): data, not logic.

Each entry is (id, abbreviation as the paper's Tables 3 and 12 print it, full name).
Ids are the 1-based numbers the releases use in their file names.
"""
from __future__ import annotations

TID2013_TYPES: list[tuple[int, str, str]] = [
    (1, "AGN", "Additive Gaussian noise"),
    (2, "ANC", "Additive noise in color components"),
    (3, "SCN", "Spatially correlated noise"),
    (4, "MN", "Masked noise"),
    (5, "HFN", "High frequency noise"),
    (6, "IN", "Impulse noise"),
    (7, "QN", "Quantization noise"),
    (8, "GB", "Gaussian blur"),
    (9, "DEN", "Image denoising"),
    (10, "JPEG", "JPEG compression"),
    (11, "JP2K", "JPEG2000 compression"),
    (12, "JGTE", "JPEG transmission errors"),
    (13, "J2TE", "JPEG2000 transmission errors"),
    (14, "NEPN", "Non eccentricity pattern noise"),
    (15, "BLOCK", "Local block-wise distortions of different intensity"),
    (16, "MS", "Mean shift (intensity shift)"),
    (17, "CTC", "Contrast change"),
    (18, "CCS", "Change of color saturation"),
    (19, "MGN", "Multiplicative Gaussian noise"),
    (20, "CN", "Comfort noise"),
    (21, "LCNI", "Lossy compression of noisy images"),
    (22, "ICQD", "Image color quantization with dither"),
    (23, "CHA", "Chromatic aberrations"),
    (24, "SSR", "Sparse sampling and reconstruction"),
]

KADID10K_TYPES: list[tuple[int, str, str]] = [
    (1, "GB", "Gaussian blur"),
    (2, "LB", "Lens blur"),
    (3, "MB", "Motion blur"),
    (4, "CD", "Color diffusion"),
    (5, "CS", "Color shift"),
    (6, "CQ", "Color quantization"),
    (7, "CSA1", "Color saturation 1 (HSV)"),
    (8, "CSA2", "Color saturation 2 (Lab)"),
    (9, "JP2K", "JPEG2000"),
    (10, "JPEG", "JPEG"),
    (11, "WN", "White noise"),
    (12, "WNCC", "White noise in color component"),
    (13, "IN", "Impulse noise"),
    (14, "MN", "Multiplicative noise"),
    (15, "DENOISE", "Denoise"),
    (16, "BRIGHTEN", "Brighten"),
    (17, "DARKEN", "Darken"),
    (18, "MS", "Mean shift"),
    (19, "JITTER", "Jitter"),
    (20, "NEP", "Non-eccentricity patch"),
    (21, "PIXELATE", "Pixelate"),
    (22, "QUANTIZATION", "Quantization"),
    (23, "CB", "Color block"),
    (24, "HS", "High sharpen"),
    (25, "CC", "Contrast change"),
]

# MLIVE's two multiply-distorted combinations, used as two types by the `+m` ablations.
MLIVE_TYPES: list[tuple[int, str, str]] = [
    (1, "BLUR+JPEG", "Gaussian blur followed by JPEG compression"),
    (2, "BLUR+NOISE", "Gaussian blur followed by white noise"),
]


def abbreviations(table: list[tuple[int, str, str]]) -> list[str]:
    """The abbreviations of a type table, in id order."""
    return [abbr for _, abbr, _ in table]


def abbreviation_of(table: list[tuple[int, str, str]], type_id: int) -> str:
    """The abbreviation of the 1-based ``type_id`` in ``table``; KeyError if out of range."""
    for tid, abbr, _ in table:
        if tid == type_id:
            return abbr
    raise KeyError(type_id)
