"""The pieces of a method that trains no network (classical features and a regressor, a
zero-shot metric): the :class:`NoNetwork` mixin and the fold's images it works from.

Such a method overrides :meth:`bench.engine.method.Method.fit` entirely and provides
``predict_images(bank, index, batch_size)`` (float64 N, higher = better) and ``facts`` (a
dict for the run record). After ``fit`` the engine predicts every image through
``predict_images``, records ``describe()`` (the facts dict itself, so counts added while
predicting are in the record) under ``method_facts``, and writes no ``model.pt``
(``trains_network = False``). Under a fold with several stages it is fitted once, by the
last stage that trains (bench/engine/stages.py): for a fine-tune fold on the fine-tuning
split (intra-dataset training: nothing is transferred from pretraining without a network).
"""
from __future__ import annotations

import numpy as np

from bench.core.errors import BenchError


class NoNetwork:
    """Mixin of the methods that train no network (see the module docstring)."""

    trains_network = False
    facts: dict = {}

    def describe(self) -> dict:
        """The run's facts (fallback counts, fitted parameters, timings), recorded as
        ``method_facts``; the live dict, so counts made while predicting are included."""
        return self.facts


def gather(bank, index: np.ndarray, table) -> np.ndarray:
    """Rows of per-array tables for global ``index`` (N) of ``bank``: ``table(k)`` gives the
    N_k x F values of the bank's array k; returns float64 N x F."""
    index = np.asarray(index, dtype=np.int64)
    which, local = bank.which[index], bank.local[index]
    out = None
    for k in np.unique(which):
        sel = which == k
        values = table(int(k))
        if out is None:
            out = np.empty((len(index), values.shape[1]))
        out[sel] = values[local[sel]]
    return out if out is not None else np.zeros((0, 1))


def images(bank, index: np.ndarray) -> np.ndarray:
    """The whole decoded images of global ``index``: uint8 N x S x S x 3."""
    return np.stack([bank.image(int(g)) for g in index]) if len(index) else \
        np.zeros((0, bank.size, bank.size, 3), np.uint8)


def reference_images(ts) -> tuple[np.ndarray, int]:
    """The training set's reference images (uint8 R x S x S x 3, one per reference key,
    sorted; ``TrainSet.reference_image``) and how many of them had no reference file, so
    that their first training image stood in (authentic images are their own reference,
    as in the counterfactual division)."""
    keys = ts.reference_keys()
    standins = sum(1 for k in keys if not getattr(ts.ref_images.get(k, (None, None))[1],
                                                  "ref_image", None))
    return np.stack([ts.reference_image(k) for k in keys]), standins


def oriented_scores(chunks: list, lower_better: bool, facts: dict, none_finite: str) -> np.ndarray:
    """The float64 N scores of a zero-shot metric from its per-batch ``chunks``, negated when
    lower is better (so higher = better quality, as SROCC expects). A non-finite score is
    replaced by the lowest finite one and counted in ``facts['n_predict_fallback']`` (never
    dropped); BenchError(``none_finite``) when no score is finite."""
    s = np.concatenate(chunks) if chunks else np.zeros(0)
    s = -s if lower_better else s
    bad = ~np.isfinite(s)
    if bad.all() and len(s):
        raise BenchError(none_finite)
    facts["n_predict_fallback"] = facts.get("n_predict_fallback", 0) + int(bad.sum())
    return np.where(bad, np.min(s[~bad]) if len(s) else 0.0, s)
