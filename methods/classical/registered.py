"""The classical NR methods as harness methods: ``brisque``, ``niqe``, ``cornia``, ``hosa``,
``bliinds2`` (tables: BRISQUE, NIQE, CORNIA, HOSA, BLIINDS-II).

Training on a fold: the features of its training images (the whole decoded image at the
profile's ``data.size``, no crop), from the feature cache (:mod:`.cache`: once per dataset,
size and feature version), then the regressor fitted on those rows only, its C (and gamma)
chosen by cross-validation grouped by reference inside them. ``niqe`` is opinion-unaware:
its pristine model is fitted on the fold's training references, no MOS is read. Test images
are predicted from the same cached features.

Counted, never silent (in the run record under ``method_facts``, see
:mod:`bench.methods.shared.no_network`): images whose features took the NaN fallback (flat images), training and
test; training rows imputed by the regressor's median imputation (the test rows with NaN
are imputed the same way); NIQE images rated like the worst test image; references
standing in by their first training image.

Per-profile settings: the quick and smoke profiles search a smaller SVR grid with fewer CV
folds (a warm-cache LODO fold in seconds on 2 cores), and fit the CORNIA/HOSA codebook on
the training references (one codebook, so features are cached once per dataset); the
paper profile keeps the full grid and 5 folds and fits the codebook on the fold's training
images (their features are then per fold, kept in memory only).
"""
from __future__ import annotations

import time

import numpy as np

from bench.engine.method import FitContext, Method
from bench.core.registry import METHODS
from bench.core.settings import Setting as S

from bench.methods.shared import no_network

GRIDS = {
    "rbf": {"full": None,
            "small": {"svr__C": [1.0, 8.0, 64.0], "svr__gamma": [2.0 ** -7, 2.0 ** -5, 2.0 ** -3]},
            "tiny": {"svr__C": [1.0, 16.0], "svr__gamma": [2.0 ** -5]}},
    "linear": {"full": None, "small": {"svr__C": [0.01, 0.1, 1.0]}, "tiny": {"svr__C": [0.1]}},
}
REGRESSOR_SETTINGS = {
    "grid": S("full", "str", "SVR hyperparameter grid searched by CV inside the training part",
              choices=("full", "small", "tiny"), per_profile={"quick": "small", "smoke": "tiny"}),
    "cv_folds": S(5, "int", "cross-validation folds of the search", low=2, high=20,
                  per_profile={"quick": 3, "smoke": 2}),
    "cv_groups": S("reference", "str", "what no CV split shares: the reference (content), the "
                   "distortion type (mimics LODO inside the training part), or nothing",
                   choices=("reference", "type", "none")),
}
CV_GROUPS = {"reference": lambda ts: [str(r) for r in ts.ref],
             "type": lambda ts: [str(t) for t in ts.type_keys()], "none": lambda ts: None}


def _seed(cfg: dict) -> int:
    return int(cfg.get("seed", 0))


class Classical(no_network.NoNetwork, Method):
    """Shared flow of the feature + SVR methods (``feature`` names the api feature)."""

    feature = ""
    stateful = ()
    settings = REGRESSOR_SETTINGS

    def fit(self, ctx: FitContext) -> list[float]:
        from . import api

        ts, t0 = ctx.train, time.time()
        self.log = ctx.log
        self.facts = {"feature": self.feature, "feature_version": api.FEATURE_VERSION,
                      "input": f"whole image, {ts.bank.size} px"}
        self.prepare(ctx)
        x = self.features(ts.bank, ts.index)
        self.facts["n_train_fallback"] = int((~np.all(np.isfinite(x), axis=1)).sum())
        t1 = time.time()
        kernel_grid = GRIDS[api.KERNEL[self.feature]][self.hp["grid"]]
        self.model = api.fit(self.feature, x, ts.mos, _seed(self.cfg),
                             groups=CV_GROUPS[self.hp["cv_groups"]](ts), grid=kernel_grid,
                             cv_folds=self.hp["cv_folds"])
        self.facts.update({"n_imputed_train": self.model.n_imputed, "svr_params": self.model.params,
                           "cv_mse": self.model.cv_mse, "feature_seconds": round(t1 - t0, 2),
                           "regressor_seconds": round(time.time() - t1, 2)})
        return []

    def prepare(self, ctx: FitContext) -> None:
        """Fit what the features depend on (a codebook); nothing by default."""

    def array_features(self, arr: np.ndarray):
        """Extracted features of every image of one decoded array (cached)."""
        from . import api
        from .cache import cached_features

        return cached_features(self.feature, arr, lambda b: api.extract(self.feature, b),
                               log=self.log)

    def features(self, bank, index: np.ndarray) -> np.ndarray:
        """Features float64 N x F of bank images ``index`` (NaN rows: fallbacks)."""
        return no_network.gather(bank, index, lambda k: self.array_features(bank.arrays[k]).values)

    def predict_images(self, bank, index: np.ndarray, batch_size: int = 0) -> np.ndarray:
        """Predicted quality (float64 N, MOS scale) of bank images ``index``."""
        from . import api

        x = self.features(bank, np.asarray(index, dtype=np.int64))
        self.facts["n_predict_fallback"] = self.facts.get("n_predict_fallback", 0) + \
            int((~np.all(np.isfinite(x), axis=1)).sum())
        return api.predict(self.model, x)


@METHODS.register("brisque")
class Brisque(Classical):
    """36 MSCN statistics at two scales + RBF SVR, trained on the fold (classical/brisque.py)."""

    display = "BRISQUE"
    feature = "brisque"


@METHODS.register("bliinds2")
class Bliinds2(Classical):
    """24 DCT-domain statistics at three scales + RBF SVR, trained on the fold
    (classical/bliinds2.py; needs data.size >= 40)."""

    display = "BLIINDS-II"
    feature = "bliinds2"


class CodebookMethod(Classical):
    """CORNIA/HOSA: a codebook fitted on the training references or images, then encoding."""

    settings = {**REGRESSOR_SETTINGS,  # noqa: RUF012 - the Method contract's class table
                "codebook": S("training", "str", "images the unsupervised codebook is fitted "
                              "on: the fold's training images, or only its references",
                              choices=("training", "references"),
                              per_profile={"quick": "references", "smoke": "references"})}

    def prepare(self, ctx: FitContext) -> None:
        from . import api
        from .cache import digest

        ts = ctx.train
        if self.hp["codebook"] == "references":
            imgs, standins = no_network.reference_images(ts)
            self.facts["n_reference_standins"] = standins
        else:
            imgs = no_network.images(ts.bank, ts.index)
        self.codebook = api.fit_codebook(self.feature, imgs, _seed(self.cfg))
        cb = self.codebook
        self.model_key = digest(cb.mean, cb.whiten, cb.centres, cb.variance, cb.skewness,
                                text=f"{cb.bandwidth!r}|{cb.seed}")
        self.facts.update({"codebook_images": len(imgs), "codebook_from": self.hp["codebook"],
                           "codebook_patches": cb.n_patches})

    def array_features(self, arr: np.ndarray):
        from . import api
        from .cache import cached_features

        return cached_features(self.feature, arr,
                               lambda b: api.extract(self.feature, b, codebook=self.codebook),
                               model=self.model_key, disk=self.hp["codebook"] == "references",
                               log=self.log)


@METHODS.register("cornia")
class Cornia(CodebookMethod):
    """Codebook soft-encoding, max pooled + linear SVR, trained on the fold (classical/cornia.py)."""

    display = "CORNIA"
    feature = "cornia"


@METHODS.register("hosa")
class Hosa(CodebookMethod):
    """High-order statistics on a codebook + linear SVR, trained on the fold (classical/hosa.py)."""

    display = "HOSA"
    feature = "hosa"


@METHODS.register("niqe")
class Niqe(no_network.NoNetwork, Method):
    """Opinion-unaware (classical/niqe.py): the pristine model fitted on the fold's
    training references (no MOS read); prediction = minus the distance to it. A test image
    without a finite distance (a flat image) is rated like the worst test image (counted in
    ``n_predict_fallback``)."""

    display = "NIQE"
    stateful = ()
    settings = {  # noqa: RUF012 - the Method contract's class table
        "patch": S(32, "int", "patch side, px (the paper's 96 px fits <= 4 patches in 256 px)",
                   low=4, high=512, per_profile={"quick": 16, "smoke": 8}),
        "sharpness": S(0.75, "float", "patches kept for the pristine fit: sharpness >= this x "
                       "the image's sharpest patch", low=0.0, high=1.0),
    }

    def fit(self, ctx: FitContext) -> list[float]:
        from . import api
        from .cache import digest

        ts, t0 = ctx.train, time.time()
        self.log = ctx.log
        refs, standins = no_network.reference_images(ts)
        self.model = api.fit_pristine(refs, patch=self.hp["patch"], sharpness=self.hp["sharpness"])
        m = self.model
        self.model_key = digest(m.mean, m.cov, text=f"{m.patch}")
        self.facts = {"feature": "niqe", "feature_version": api.FEATURE_VERSION,
                      "input": f"whole image, {ts.bank.size} px", "pristine_images": len(refs),
                      "n_reference_standins": standins, "pristine_patches": m.n_patches,
                      "pristine_patches_dropped": m.n_dropped,
                      "fit_seconds": round(time.time() - t0, 2)}
        return []

    def distances(self, arr: np.ndarray) -> np.ndarray:
        """NIQE distances (float64 N x 1, NaN where undefined) of one decoded array (cached)."""
        from .brisque import Extracted
        from .cache import cached_features
        from .niqe import niqe_distance

        def compute(b):
            d = niqe_distance(self.model, b)
            return Extracted(d[:, None], int((~np.isfinite(d)).sum()))

        return cached_features("niqe", arr, compute, model=self.model_key, log=self.log).values

    def predict_images(self, bank, index: np.ndarray, batch_size: int = 0) -> np.ndarray:
        """Minus the NIQE distance (float64 N, higher = better) of bank images ``index``."""
        from .images import FeatureError

        d = no_network.gather(bank, np.asarray(index, dtype=np.int64),
                           lambda k: self.distances(bank.arrays[k]))[:, 0]
        bad = ~np.isfinite(d)
        if bad.all() and len(d):
            raise FeatureError(f"niqe: none of the {len(d)} test images has a finite NIQE distance")
        self.facts["n_predict_fallback"] = self.facts.get("n_predict_fallback", 0) + int(bad.sum())
        return -np.where(bad, np.max(d[~bad]) if len(d) else 0.0, d)
