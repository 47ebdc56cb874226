"""The train-val selection score (issue 23; DomainBed's 'training-domain validation'): a run
with ``train.holdout = f`` > 0 holds out a seeded share f of its fold's training
references (every image of a held-out reference; an image is its own reference where a
dataset has none), trains on the rest, and records its metrics on the held-out images
under the fact ``holdout``. Only the ``Fit`` stage of a no-reference method holds out
(LODO); a pretrained artifact (cross-dataset, fine-tuning) is shared between folds and
holds nothing out, so train-val finds no score for it and names the fold; a
full-reference method's holdout is a usage error."""
from __future__ import annotations

import zlib

import numpy as np

from ..core.metrics import all_metrics, collapse_of


def holdout_split(s, parts: list, cfg: dict, fold: str) -> tuple[list, list]:
    """(training parts, held-out parts) of ``parts`` ((dataset, record indices) pairs):
    round(f x references) references (at least 1 when f > 0) drawn with a generator
    seeded by the run's seed and ``fold``; ([parts], []) when train.holdout is 0."""
    share = float(cfg["train"].get("holdout", 0.0) or 0.0)
    if share <= 0:
        return list(parts), []
    from .session import is_pair_method

    if is_pair_method(s.method_cls):
        from ..core.errors import UsageError

        raise UsageError("train.holdout holds out images of a no-reference method's training "
                         "set; a full-reference method trains on pairs: leave it at 0")
    keys = sorted({(name, _ref(s, name, i)) for name, idx in parts for i in idx})
    rng = np.random.default_rng([int(cfg["seed"]), zlib.crc32(f"holdout|{fold}".encode())])
    n = min(len(keys) - 1, max(1, round(share * len(keys))))
    held = {keys[j] for j in rng.choice(len(keys), size=n, replace=False)}
    train, out = [], []
    for name, idx in parts:
        keep = [i for i in idx if (name, _ref(s, name, i)) not in held]
        drop = [i for i in idx if (name, _ref(s, name, i)) in held]
        train += [(name, keep)] if keep else []
        out += [(name, drop)] if drop else []
    return train, out


def _ref(s, name: str, i: int) -> str:
    r = s.datasets[name].records[i]
    return r.ref if r.ref is not None else r.image


def score_holdout(s, engine, cfg: dict, held: list, log, desc: str) -> dict:
    """The model's metrics on the held-out images (all datasets together), with
    'collapsed' and the share, as the record's ``holdout`` fact."""
    preds, mos = [], []
    for name, idx in held:
        ds = s.datasets[name]
        preds.append(engine.predict(s.bank, s.offsets[name] + np.asarray(idx, dtype=np.int64),
                                    cfg["test"]["batch_size"]))
        mos.append(np.asarray([ds.records[i].mos for i in idx], dtype=np.float64))
    pred = np.concatenate(preds)
    got = all_metrics(pred, np.concatenate(mos))
    why = collapse_of(pred)
    if why:
        log(f"{desc}: COLLAPSED on the held-out training images: {why} predictions")
    return {**got, "share": float(cfg["train"]["holdout"]), "collapsed": why}
