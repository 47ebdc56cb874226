"""Pseudo-MOS for the synthetic suite: an ensemble of pyiqa's pure-computation
full-reference metrics (no weights to download), mapped monotonically to [0, 1].

Members and the resolution each is computed at were chosen for CPU cost (measured on
2 cores: GMSD ~300 images/s at 192 px, NLPD ~700 and FSIM ~70 images/s at 96 px, while
SSIM, MS-SSIM and VIF stay under 20 images/s at 192 px). Each member is oriented so that
higher is better, z-scored over the whole suite, averaged, and the mean z is passed
through a logistic: pseudo-MOS = 1 / (1 + exp(-1.5 z)).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

# (pyiqa metric name, side in px the metric is computed at)
MEMBERS: list[tuple[str, int]] = [("gmsd", 192), ("nlpd", 96), ("fsim", 96)]
LOGISTIC_SLOPE = 1.5
#: The metrics a synthetic set's pseudo-MOS is made of: its "label source" (circular to
#: evaluate them, or metrics strongly correlated with them, on the set).
LABEL_SOURCE: tuple[str, ...] = tuple(name for name, _ in MEMBERS)


def _resize(batch, side: int):
    import torch.nn.functional as F

    if batch.shape[-1] == side:
        return batch
    return F.interpolate(batch, size=(side, side), mode="area")


def member_scores(distorted: np.ndarray, reference: np.ndarray, batch: int = 64,
                  progress: Optional[Callable[[str, int, int], None]] = None) -> dict[str, np.ndarray]:
    """Raw scores of every ensemble member, oriented so that higher is better.

    distorted, reference: N x H x W x 3 uint8 arrays (pairs by index). Returns
    {metric name: float64 array of N}. ``progress(name, n, N)`` is called after each
    batch of n images. pyiqa's warnings are silenced inside this call only.
    """
    import warnings

    import torch

    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyiqa")
        import pyiqa

        from ..pyiqa_offline import offline, weights_only_loads

        for name, side in MEMBERS:
            with offline(f"pseudo-MOS {name}"):
                metric = pyiqa.create_metric(name, device="cpu")
            sign = -1.0 if metric.lower_better else 1.0
            vals = []
            with torch.no_grad(), weights_only_loads(f"pseudo-MOS {name}"):
                for i in range(0, len(distorted), batch):
                    d = torch.from_numpy(distorted[i:i + batch]).permute(0, 3, 1, 2).float() / 255
                    r = torch.from_numpy(reference[i:i + batch]).permute(0, 3, 1, 2).float() / 255
                    vals.append(metric(_resize(d, side), _resize(r, side)).reshape(-1).double().numpy())
                    if progress is not None:
                        progress(name, len(d), len(distorted))
            out[name] = sign * np.concatenate(vals)
    return out


def ensemble(scores: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean z-score, pseudo-MOS in [0, 1]) from oriented member scores of equal length."""
    zs = []
    for name in sorted(scores):
        v = scores[name]
        sd = v.std()
        zs.append((v - v.mean()) / (sd if sd > 0 else 1.0))
    z = np.mean(zs, axis=0)
    return z, 1.0 / (1.0 + np.exp(-LOGISTIC_SLOPE * z))


def labelled(distorted: np.ndarray, reference: np.ndarray, log: Callable[[str], None],
             label: str = "") -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(member scores, mean z-score, pseudo-MOS) of N distorted images against their
    references (both N x S x S x 3 uint8), with a progress line per member metric to
    ``log`` ('pseudo-MOS <label> <metric>: done/total')."""
    from ..progress import Progress

    bars: dict[str, Progress] = {}
    prefix = f"pseudo-MOS {label} " if label else "pseudo-MOS "

    def scored(metric: str, n: int, total: int) -> None:
        bars.setdefault(metric, Progress(log, prefix + metric, total)).advance(n)

    scores = member_scores(distorted, reference, progress=scored)
    z, mos = ensemble(scores)
    return scores, z, mos


def agreement(scores: dict[str, np.ndarray], mos: np.ndarray) -> dict[str, float]:
    """SROCC between the pseudo-MOS and each member (how well the ensemble agrees)."""
    from scipy.stats import spearmanr

    return {name: float(spearmanr(v, mos)[0]) for name, v in sorted(scores.items())}
