"""Training the run's method on some records: a fresh network (its own or the config's),
an engine, the method's ``fit`` through the engine's loop, and the facts a record keeps of
it (budgets, losses, timings, how well the model fits its training set)."""
from __future__ import annotations

import sys
import time
import zlib
from pathlib import Path

import numpy as np

from ..core.metrics import all_metrics
from .device import resolve_device
from .loop import CheckpointDiscarded, FitContext
from .session import Session, is_pair_method, pair_train_set_from, train_set_from


def seed_torch(cfg: dict, label: str) -> int:
    """Seed torch from the run's seed and ``label``; the seed of the numpy generator."""
    import torch

    seed = (cfg["seed"] * 1_000_003 + zlib.crc32(label.encode())) % 2**32
    torch.manual_seed(seed)
    return seed


def progress(desc: str, epochs: int):
    """A tqdm bar over epochs and the epoch_done callback feeding it; (bar, history, cb)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False, file=sys.stderr,
               dynamic_ncols=True)
    history: list[float] = []

    def epoch_done(epoch: int, loss: float) -> None:
        history.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}")
        bar.update(1)

    return bar, history, epoch_done


def fit_method(s: Session, cfg: dict, parts: list, label: str, desc: str, log,
               checkpoint: Path | None = None, unlabelled: list = ()):
    """Build a model and train it with the method on ``parts`` (and, for a full-reference
    method, the ``unlabelled`` parts without their MOS) (resuming from ``checkpoint`` when
    train.checkpoint is on; from scratch when that checkpoint turns out unusable); returns
    (engine, init, facts), facts recording the training."""
    from .method import build_network
    from .engine import Engine

    pairs = is_pair_method(s.method_cls)
    while True:
        seed = seed_torch(cfg, label)
        model, init = build_network(s.method_cls, cfg, log)
        engine = Engine(cfg, model, resolve_device(cfg["device"]), np.random.default_rng(seed))
        ts = pair_train_set_from(s, parts, unlabelled) if pairs else train_set_from(s, parts)
        method = s.method_cls(cfg)
        bar, history, epoch_done = progress(desc, int(method.schedule()["epochs"]))
        t0 = time.time()
        ck = checkpoint if cfg["train"].get("checkpoint") else None
        try:
            method.fit(FitContext(engine, ts, cfg, epoch_done, ck, log))
            if pairs:
                engine.predictor = method.predict_pairs
            elif not method.trains_network:
                engine.predictor = method.predict_images
            break
        except CheckpointDiscarded:
            continue
        finally:
            bar.close()
    facts = {"n_train": len(ts), "train_seconds": round(time.time() - t0, 2),
             "loss_history": history, "images_seen": engine.images_seen,
             "optimizer_steps": engine.optimizer_steps,
             **({"n_labelled": int(np.isfinite(ts.mos).sum())} if pairs else {}),
             "engine": engine.describe(), **training_fit(engine, ts, cfg),
             "method_facts": method.describe()}
    return engine, init, facts


TRAIN_FIT_IMAGES = 300  # training images the training fit is measured on, at most


def training_fit(engine, ts, cfg: dict, limit: int = TRAIN_FIT_IMAGES) -> dict:
    """How well the trained model fits its own training set, so underfitting is visible:
    {'train_srocc', 'train_plcc', 'train_fit_n'} on at most ``limit`` training images
    (a subsample drawn from the run's seed alone, the same for every method), predicted in
    the test view. It draws from its own generator: training is not perturbed. Only
    labelled items count (a full-reference fold's unlabelled pairs have NaN MOS)."""
    rng = np.random.default_rng([int(cfg["seed"]), 0x7F17])
    labelled = np.flatnonzero(np.isfinite(ts.mos))
    if not len(labelled):
        return {"train_srocc": None, "train_plcc": None, "train_fit_n": 0}
    pos = np.sort(labelled[rng.choice(len(labelled), size=min(limit, len(labelled)), replace=False)])
    bank = ts.pairs if getattr(ts, "pairs", None) is not None else ts.bank
    pred = engine.predict(bank, ts.index[pos], cfg["test"]["batch_size"])
    got = all_metrics(pred, ts.mos[pos].astype(np.float64))
    return {"train_srocc": got["srocc"], "train_plcc": got["plcc"], "train_fit_n": len(pos)}
