"""How a method that trains no network plugs into the harness's runner, and the fold's
images it works from.

Such a method (:class:`NoNetwork`) overrides :meth:`bench.engine.method.Method.fit` entirely and
provides ``predict_images(bank, index, batch_size)`` (float64 N, higher = better) and
``facts`` (a dict for the run record). After ``fit`` the runner predicts every image
through ``predict_images`` (the engine's ``predictor``), records ``describe()`` (the facts
dict itself, so counts added while predicting are in the record) under ``method_facts``,
and writes no ``model.pt`` (``trains_network = False``).

Under protocols with a pretraining stage (cross, finetune) the runner fits such a method
directly on the fold's fine-tuning split when it has one (intra-dataset training: nothing
is transferred from pretraining without a network), else on the training sets; no model
artifact is shared between folds, so each fold refits (features come from the cache).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


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


def reference_images(ts, size: int) -> tuple[np.ndarray, int]:
    """The training set's reference images (uint8 R x size x size x 3, one per reference key,
    sorted) and how many of them had no reference file, so that their first training image
    stood in (authentic images are their own reference; as the counterfactual division)."""
    from bench.data.cache import decode_image

    first = {}
    for pos, key in enumerate(ts.ref):
        first.setdefault(key, pos)
    out, standins = [], 0
    for key in sorted(ts.ref_images, key=str):
        ds, rec = ts.ref_images[key]
        if rec.ref_image:
            out.append(decode_image(Path(ds.root) / rec.ref_image, size))
        else:
            standins += 1
            out.append(ts.bank.image(int(ts.index[first[key]])))
    return np.stack(out), standins
