"""The one entry point for classical NR quality features and regressors (the harness methods
built on it are in :mod:`.registered`).

Trained methods (features, then a regressor fitted on the fold's training part):

- ``brisque``: 36 MSCN statistics (:mod:`.brisque`), RBF SVR;
- ``cornia``: codebook soft-encoding max/min pooling, 2 x 100 values (:mod:`.cornia`),
  linear SVR;
- ``hosa``: codebook high-order statistics, 3 x 32 x 49 values (:mod:`.hosa`), linear SVR;
- ``bliinds2``: 24 DCT-domain statistics (:mod:`.bliinds2`), RBF SVR.

    cb = fit_codebook("cornia", train_images, seed)          # cornia / hosa only
    feats = extract("cornia", images, codebook=cb)           # Extracted(values N x F, n_fallback)
    model = fit("cornia", feats_train.values, mos_train, seed, groups=refs_train)
    pred = predict(model, feats_test.values)                 # N, higher = better

Opinion-unaware ``niqe`` (:mod:`.niqe`): ``fit_pristine(reference_images)`` then
``score(model, images)`` -> Extracted with values N x 1 = minus the NIQE distance (higher =
better, so SROCC with MOS is positive for a working model).

Images are uint8 arrays N x H x W x 3 (RGB). Features and codebooks depend only on the
images given (and the seed), so they can be cached per dataset, file list, size and
:data:`FEATURE_VERSION`.

Not implemented: IL-NIQE fitted on the fold (not attempted in this round; its cost was not
measured). pyiqa's own IL-NIQE runs zero-shot as ``--method pyiqa:ilniqe`` once its
pristine model ``ILNIQE_templateModel.mat`` is placed in pyiqa's cache folder (without it
the run stops with the one-line weights message).
"""
from __future__ import annotations

from . import cornia, hosa
from .bliinds2 import bliinds2_features
from .brisque import Extracted, brisque_features
from .codebook import Codebook
from .codebook import fit_codebook as _fit_codebook
from .niqe import PristineModel, fit_pristine, niqe_scores
from .regress import CV_FOLDS, Regressor, fit_regressor, predict_regressor

FEATURE_VERSION = 1
METHODS = ("brisque", "cornia", "hosa", "bliinds2")
KERNEL = {"brisque": "rbf", "cornia": "linear", "hosa": "linear", "bliinds2": "rbf"}
CODEBOOK_SIZE = {"cornia": cornia.SIZE, "hosa": hosa.SIZE}

__all__ = [
    "FEATURE_VERSION",
    "METHODS",
    "Codebook",
    "Extracted",
    "PristineModel",
    "Regressor",
    "extract",
    "fit",
    "fit_codebook",
    "fit_pristine",
    "predict",
    "score",
]


def _check(name: str, allowed) -> None:
    if name not in allowed:
        raise ValueError(f"classical method must be one of {', '.join(allowed)}, not {name!r}")


def fit_codebook(name: str, images, seed: int) -> Codebook:
    """The unsupervised codebook of ``name`` ("cornia" or "hosa") fitted on uint8 training
    images N x H x W x 3 with ``seed``."""
    _check(name, tuple(CODEBOOK_SIZE))
    return _fit_codebook(images, CODEBOOK_SIZE[name], seed, name)


def extract(name: str, images, codebook: Codebook | None = None, on_nan: str = "count") -> Extracted:
    """Features of uint8 images N x H x W x 3 for ``name``: Extracted(values float64 N x F,
    n_fallback = rows set to NaN by the documented fallback; FeatureError instead when
    ``on_nan == "error"``). cornia and hosa need the fold's ``codebook``."""
    _check(name, METHODS)
    if name == "brisque":
        return brisque_features(images, on_nan)
    if name == "bliinds2":
        return bliinds2_features(images, on_nan)
    if codebook is None:
        raise ValueError(f"{name} needs a codebook: fit_codebook({name!r}, train_images, seed)")
    fn = cornia.cornia_features if name == "cornia" else hosa.hosa_features
    return fn(codebook, images, on_nan)


def fit(name: str, train_feats, train_mos, seed: int, groups=None, grid: dict | None = None,
        cv_folds: int | None = None) -> Regressor:
    """The regressor of ``name`` fitted on training features N x F and MOS (N), its
    hyperparameters chosen by cross-validation inside these rows (grouped by ``groups``);
    ``grid``/``cv_folds`` override the full search (see :mod:`.regress`)."""
    _check(name, METHODS)
    return fit_regressor(KERNEL[name], train_feats, train_mos, seed, groups, grid,
                         CV_FOLDS if cv_folds is None else cv_folds)


def predict(model: Regressor, feats):
    """Predicted quality (float64 N, MOS scale, higher = better) of features N x F."""
    return predict_regressor(model, feats)


def score(model: PristineModel, images, on_nan: str = "count") -> Extracted:
    """NIQE predictions of uint8 images N x H x W x 3: values N x 1 = minus the distance to
    the pristine ``model`` (higher = better); see :func:`.niqe.niqe_scores` for the
    counted fallback."""
    return niqe_scores(model, images, on_nan)
