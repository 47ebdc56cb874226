"""Regressors from classical features to MOS, hyperparameters chosen by cross-validation
inside the training part only (scikit-learn ``GridSearchCV`` on the training features).

- ``rbf`` (BRISQUE, as the paper: epsilon-SVR with an RBF kernel): C and gamma from
  RBF_GRID;
- ``linear`` (CORNIA, HOSA, as their papers: linear SVR): C from LINEAR_GRID. Deviation: the
  squared epsilon-insensitive loss solved in the primal (liblinear), not the papers' L1
  epsilon-insensitive loss, whose dual solver took 5-45 s per fit at C >= 0.1 on 1,440
  CORNIA rows here (measured) against 0.2-0.4 s.

Pipeline: median imputation of NaN feature values (a row that took an extractor's NaN
fallback; the medians are the training part's, the count is ``Regressor.n_imputed``), then
standardisation (zero mean, unit variance per feature; the BRISQUE release scales to
[-1, 1] instead), then the SVR on standardised targets (MOS minus its training mean, over
its training std, so the SVR's epsilon = 0.1 means a tenth of the MOS spread whatever the
MOS scale; on the harness's [0, 1] MOS a raw epsilon of 0.1 leaves most rows inside the
tube and the fit nearly constant). Cross-validation: 5 folds shuffled with the seed, or grouped
folds when ``groups`` (e.g. the reference image of each training image) are given so that
no content is on both sides of a split; scored by mean squared error (scikit's
``neg_mean_squared_error``), refit on the whole training part with the best parameters.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

RBF_GRID = {"svr__C": [2.0 ** k for k in range(-1, 10, 2)],
            "svr__gamma": [2.0 ** k for k in range(-11, 0, 2)]}
LINEAR_GRID = {"svr__C": [10.0 ** k for k in range(-3, 2)]}
CV_FOLDS = 5
KERNELS = ("rbf", "linear")


@dataclass
class Regressor:
    """A fitted regressor: the scikit-learn ``pipeline``, its ``kernel``, the ``params``
    chosen by cross-validation, their mean CV MSE ``cv_mse`` (MOS units squared),
    ``n_imputed`` (training rows with a NaN value), and the training MOS mean and std the
    targets were standardised with."""

    pipeline: object
    kernel: str
    params: dict = field(default_factory=dict)
    cv_mse: float = float("nan")
    n_imputed: int = 0
    y_mean: float = 0.0
    y_std: float = 1.0


def _pipeline(kernel: str, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR, LinearSVR

    svr = (SVR(kernel="rbf") if kernel == "rbf"
           else LinearSVR(loss="squared_epsilon_insensitive", dual=False, random_state=seed,
                          max_iter=20000))
    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("scale", StandardScaler()), ("svr", svr)])


def fit_regressor(kernel: str, feats, mos, seed: int, groups=None, grid: dict | None = None,
                  cv_folds: int = CV_FOLDS) -> Regressor:
    """Fit ``kernel`` ("rbf" or "linear") SVR from features N x F to MOS (N), choosing its
    hyperparameters by CV on these training rows only; ``groups`` (N labels) for grouped CV;
    ``grid`` (parameter name -> values, default RBF_GRID or LINEAR_GRID) and ``cv_folds``
    (at most that many CV folds) size the search."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    x = np.asarray(feats, dtype=np.float64)
    y = np.asarray(mos, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise ValueError(f"features {x.shape} and MOS ({y.size}) do not match")
    folds = min(int(cv_folds), y.size if groups is None else len(np.unique(groups)))
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 training images (or groups)")
    cv = (GroupKFold(n_splits=folds) if groups is not None
          else KFold(n_splits=folds, shuffle=True, random_state=seed))
    y_mean, y_std = float(y.mean()), float(y.std()) or 1.0
    y = (y - y_mean) / y_std
    if grid is None:
        grid = RBF_GRID if kernel == "rbf" else LINEAR_GRID
    search = GridSearchCV(_pipeline(kernel, seed), grid,
                          scoring="neg_mean_squared_error", cv=cv, n_jobs=1, refit=True)
    with warnings.catch_warnings():
        # liblinear stopping at max_iter for the largest C: that C is still scored by CV
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y, groups=groups)
    return Regressor(search.best_estimator_, kernel, dict(search.best_params_),
                     float(-search.best_score_) * y_std ** 2,
                     int((~np.all(np.isfinite(x), axis=1)).sum()), y_mean, y_std)


def predict_regressor(model: Regressor, feats) -> np.ndarray:
    """Predicted MOS (float64 N) of features N x F (NaN values imputed with the training
    medians)."""
    z = model.pipeline.predict(np.asarray(feats, dtype=np.float64)).astype(np.float64)
    return z * model.y_std + model.y_mean
