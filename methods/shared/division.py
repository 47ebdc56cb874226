"""Counterfactual division (paper Stage 1; docs/readings.md).

Content C: features of every training reference (ImageNet ResNet-18 global pool, 512-d,
when the weights are in the torch cache; otherwise a documented pixel-statistics feature),
t-SNE to ``tsne_dims`` (exact method), a Gaussian mixture with c components giving soft
probabilities w[r, i]. Each distorted image inherits its reference's w. Subsets
S = {(c_i, d_j)} (optionally x levels): subset (i, j) holds the images of type j, image r
weighted w[r, i] / sum of w[., i] over the subset (Eq. 6), so a subset's weights sum to 1.

:func:`divide` is the division of a fold's training set, seen by the training part only:
the references come from the engine's ``TrainSet.reference_image``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass
class Subset:
    """One element of S. key: (dataset, type, [level,] cluster). items: positions into
    the training set (int array). weights: Eq. 6 weights of those items (sum to 1)."""

    key: tuple
    items: np.ndarray
    weights: np.ndarray


def pixel_stat_features(images: list[np.ndarray]) -> np.ndarray:
    """Content features without pretrained weights: per image (H x W x 3 uint8) the RGB
    means and standard deviations, a 16-bin luminance histogram, an 8-bin gradient
    magnitude histogram and the colourfulness (Hasler-Suesstrunk); R x 31 float64."""
    feats = []
    for img in images:
        x = img.astype(np.float64) / 255.0
        lum = x @ np.array([0.299, 0.587, 0.114])
        gy, gx = np.gradient(lum)
        grad = np.hypot(gx, gy)
        rg = x[..., 0] - x[..., 1]
        yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
        colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
        feats.append(np.concatenate([
            x.mean(axis=(0, 1)), x.std(axis=(0, 1)),
            np.histogram(lum, bins=16, range=(0, 1))[0] / lum.size,
            np.histogram(grad, bins=8, range=(0, 0.5))[0] / grad.size,
            [colourful]]))
    return np.asarray(feats)


def resnet18_features(images: list[np.ndarray], checkpoint) -> np.ndarray:
    """ImageNet ResNet-18 global-pool features (R x 512) of H x W x 3 uint8 images."""
    import torch
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    net.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    net.fc = torch.nn.Identity()
    net.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    out = []
    with torch.no_grad():
        for img in images:
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255
            x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
            out.append(net((x - mean) / std).numpy()[0])
    return np.asarray(out)


_SAID: set = set()


def content_features(images: list[np.ndarray], feature: str = "auto",
                     log: Callable[[str], None] = print,
                     checkpoint=None) -> tuple[np.ndarray, str]:
    """(R x D features, name of the feature used) for the reference images; ``checkpoint``:
    the ResNet-18 weights file to use (default: the torch cache's)."""
    if feature in ("auto", "imagenet-resnet18"):
        from bench.engine.models import imagenet_checkpoint

        ckpt = checkpoint if checkpoint is not None else imagenet_checkpoint("resnet18")
        if ckpt is not None:
            return resnet18_features(images, ckpt), "imagenet-resnet18"
        if feature == "imagenet-resnet18":
            from bench.core.errors import BenchError

            raise BenchError("division.feature=imagenet-resnet18 needs torchvision's ResNet-18 "
                             "checkpoint in the torch cache")
        if not _SAID:  # said once per process, not once per fold
            _SAID.add("pixelstats")
            log("ImageNet ResNet-18 weights are not in the torch cache: content clusters use "
                "pixel statistics (RGB moments, luminance and gradient histograms, colourfulness)")
    return pixel_stat_features(images), "pixelstats"


def cluster_probabilities(features: np.ndarray, clusters: int, tsne_dims: int = 10,
                          perplexity: float = 30.0, seed: int = 0,
                          covariance: str = "diag") -> np.ndarray:
    """Soft cluster probabilities w (R x clusters, rows sum to 1) of R feature vectors:
    standardise, t-SNE (exact) to ``tsne_dims``, Gaussian mixture. c = 1 gives ones."""
    r = len(features)
    if clusters <= 1:
        return np.ones((r, 1))
    if r < clusters:
        from bench.core.errors import UsageError

        raise UsageError(f"method.clusters={clusters}: {r} references cannot form {clusters} "
                         f"content clusters; use at most {r}")
    from sklearn.manifold import TSNE
    from sklearn.mixture import GaussianMixture

    f = np.asarray(features, dtype=np.float64)
    f = (f - f.mean(0)) / np.where(f.std(0) > 0, f.std(0), 1.0)
    dims = max(1, min(tsne_dims, r - 1))
    perp = float(min(perplexity, max(1.0, (r - 1) / 3.0)))
    # learning rate: sklearn's 'auto' rule (N / early_exaggeration / 4) without its floor
    # of 50, with which exact t-SNE into 10 dims of a few dozen references diverges
    # (KL ~ 5-10) and the mixture's clusters come out random.
    emb = TSNE(n_components=dims, method="exact", perplexity=perp, random_state=seed,
               init="random", learning_rate=max(r / 48.0, 1.0)).fit_transform(f)
    gmm = GaussianMixture(clusters, covariance_type=covariance, random_state=seed,
                          reg_covar=1e-3, n_init=3).fit(emb)
    return gmm.predict_proba(emb)


def build_subsets(types: list, refs: list, w_ref: dict, clusters: int,
                  levels: Optional[list] = None) -> list[Subset]:
    """The subsets S of the training set.

    types[k]: a hashable type key of training item k (e.g. (dataset, 'GB')); refs[k]: its
    reference key; w_ref[ref]: length-c probabilities; levels[k]: level key when distortion
    level is a confounder (+L), else None. Subsets are ordered by key; each subset's
    weights are Eq. 6's, summing to 1.
    """
    n = len(types)
    groups: dict[tuple, list[int]] = {}
    for k in range(n):
        g = (types[k],) if levels is None else (types[k], levels[k])
        groups.setdefault(g, []).append(k)
    subsets = []
    for g in sorted(groups, key=lambda t: tuple(str(x) for x in t)):
        items = np.asarray(groups[g], dtype=np.int64)
        w = np.asarray([w_ref[refs[k]] for k in items], dtype=np.float64).reshape(len(items), -1)
        for i in range(clusters):
            col = w[:, i]
            total = col.sum()
            if total <= 1e-12:
                continue  # no image of this type belongs to cluster i at all
            subsets.append(Subset(g + (i,), items, col / total))
    return subsets


def divide(train, clusters: int, seed: int, levels: bool = False, feature: str = "auto",
           tsne_dims: int = 10, perplexity: float = 30.0, covariance: str = "diag",
           log: Callable[[str], None] = print,
           checkpoint=None, hard: bool = False) -> tuple[list[Subset], Optional[str]]:
    """(the subsets S of ``train``, the content feature used or None): content clusters of
    its references (``train.reference_image``; c = 1 needs no features; ``checkpoint``: the
    ResNet-18 weights of the ImageNet feature, default the torch cache's), crossed with its
    distortion types (and levels when ``levels``), weighted by Eq. 6; ``hard``: each
    reference belongs to its most probable cluster only (one-hot w, a subset holds only its
    cluster's images, weighted uniformly). UsageError when
    ``clusters`` exceeds the references or an image has no distortion type."""
    from bench.core.errors import UsageError

    keys = train.reference_keys()
    if clusters > len(keys):
        raise UsageError(f"method.clusters={clusters} is more than the {len(keys)} "
                         f"training references; use at most {len(keys)}")
    used = None
    if clusters > 1:
        feats, used = content_features([train.reference_image(k) for k in keys], feature, log,
                                       checkpoint)
        w = cluster_probabilities(feats, clusters, tsne_dims, perplexity, seed, covariance)
        if hard:
            w = np.eye(clusters)[np.argmax(w, axis=1)]
    else:
        w = np.ones((len(keys), 1))
    types = train.type_keys()
    if any(t[1] is None for t in types):
        raise UsageError("the causal methods and MetaIQA need distortion type labels for "
                         "every training image")
    subsets = build_subsets(types, train.ref, dict(zip(keys, w)), clusters,
                            train.level if levels else None)
    return (only_weighted(subsets) if hard else subsets), used


def only_weighted(subsets: list[Subset]) -> list[Subset]:
    """Each subset without its items of weight 0 (hard clusters: the other clusters'
    images), the remaining weights renormalised to sum to 1."""
    out = []
    for s in subsets:
        keep = s.weights > 0
        out.append(Subset(s.key, s.items[keep], s.weights[keep] / s.weights[keep].sum()))
    return out

