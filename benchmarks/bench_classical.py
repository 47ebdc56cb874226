"""Per-image cost of the classical NR features (issue 12), images/s on this CPU, at 72 px
and 192 px, on skimage.data pictures; also one codebook fit and one BRISQUE regressor fit
at the size of a syn-kadid LODO training part (1,440 images x 36 features).

    python -m pytest benchmarks/bench_classical.py --benchmark-only -q -s

Rates are the median over rounds of a batch of N_IMAGES images; the machine's load average
is printed beside them, since the 2 cores are shared.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from bench.methods.classical import api

N_IMAGES = 16
SCENES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass", "gravel")


def _pictures(size: int) -> np.ndarray:
    from skimage import color, data, transform, util

    out = []
    for name in SCENES:
        im = getattr(data, name)()
        im = color.gray2rgb(im) if im.ndim == 2 else im[..., :3]
        im = util.img_as_ubyte(transform.resize(im, (size, size), anti_aliasing=True))
        out += [im, im[:, ::-1]]
    return np.stack(out[:N_IMAGES])


@pytest.fixture(scope="module", params=[72, 192], ids=lambda s: f"{s}px")
def pictures(request) -> np.ndarray:
    return _pictures(request.param)


def _report(benchmark, name: str, images: np.ndarray) -> None:
    rate = len(images) / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = round(rate, 1)
    print(f"\n{name} {images.shape[1]} px: {rate:.1f} images/s ({torch.get_num_threads()} torch "
          f"threads, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


@pytest.mark.parametrize("name", ["brisque", "bliinds2"])
def test_plain_features(benchmark, pictures, name):
    benchmark.group = "classical features (batch of 16)"
    out = benchmark.pedantic(api.extract, args=(name, pictures), rounds=3, warmup_rounds=1)
    assert out.n_fallback == 0
    _report(benchmark, name, pictures)


def test_niqe_score(benchmark, pictures):
    benchmark.group = "classical features (batch of 16)"
    patch = 32 if pictures.shape[1] >= 128 else 16
    model = api.fit_pristine(_pictures(384), patch=patch)
    out = benchmark.pedantic(api.score, args=(model, pictures), rounds=3, warmup_rounds=1)
    assert out.n_fallback == 0
    _report(benchmark, f"niqe (patch {patch})", pictures)


@pytest.mark.parametrize("name", ["cornia", "hosa"])
def test_codebook_features(benchmark, pictures, name):
    benchmark.group = "classical features (batch of 16)"
    cb = api.fit_codebook(name, pictures, seed=0)
    out = benchmark.pedantic(api.extract, args=(name, pictures), kwargs={"codebook": cb},
                             rounds=3, warmup_rounds=1)
    assert out.n_fallback == 0
    _report(benchmark, name, pictures)


@pytest.mark.parametrize("name", ["cornia", "hosa"])
def test_codebook_fit(benchmark, name):
    benchmark.group = "fits"
    images = _pictures(192)
    benchmark.pedantic(api.fit_codebook, args=(name, images, 0), rounds=1, iterations=1)
    print(f"\n{name} codebook fit on 16 images at 192 px: {benchmark.stats.stats.median:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})")


def test_brisque_regressor_fit_lodo_size(benchmark):
    """RBF SVR with its 6 x 6 grid and 5-fold CV on 1,440 rows of 36 features (BRISQUE
    features of the 16 pictures, jittered; targets a smooth function of them)."""
    benchmark.group = "fits"
    base = api.extract("brisque", _pictures(192)).values
    rng = np.random.default_rng(0)
    x = base[rng.integers(0, len(base), 1440)] * (1 + 0.05 * rng.normal(size=(1440, 36)))
    y = np.tanh(x[:, 0] - x[:, 0].mean()) + x[:, 18] + 0.05 * rng.normal(size=1440)
    benchmark.pedantic(api.fit, args=("brisque", x, y, 0), rounds=1, iterations=1)
    print(f"\nbrisque RBF SVR fit with CV on 1,440 x 36: {benchmark.stats.stats.median:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})")


# --------------------------------------------------------------------------- LODO fold time
def _lodo_session(method: str):
    """The quick profile's LODO session of ``method`` on syn-kadid (the synthetic suite and
    the decoded cache are made once in BENCH_CACHE, minutes the first time)."""
    from bench.engine import session as plan
    from bench.core.config import resolve

    cfg = resolve("quick", {"device": "cpu"}, method=method)
    cfg["protocol"] = {"name": "lodo", "dataset": "syn-kadid"}
    return plan.prepare(cfg, log=lambda m: None)


def _fold_seconds(session, fold) -> float:
    """Wall seconds of one fold as the runner does it: fit on the training part, predict the
    test images (the network the runner builds is not part of it)."""
    import time

    from bench.engine import session as plan
    from bench.engine.loop import FitContext
    from bench.engine.models import build_model
    from bench.engine.engine import Engine

    cfg = plan.fold_config(session.cfg, fold)
    model, _ = build_model(cfg["model"], log=lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    t0 = time.perf_counter()
    ts = plan.train_set_from(session, fold.method_parts())
    session.method_cls(cfg).fit(FitContext(engine, ts, cfg, lambda e, loss: None,
                                           log=lambda m: None))
    for name, idx in fold.tests.values():
        engine.predict(session.bank, session.offsets[name] + np.asarray(idx), 64)
    return time.perf_counter() - t0


def test_brisque_warm_cache_lodo(benchmark):
    """Warm-cache LODO of ``brisque`` (quick profile: small SVR grid, 3 grouped CV folds) on
    syn-kadid. BENCH_CLASSICAL_FOLDS: how many of the 25 folds are timed (default 3; the
    25-fold time is then extrapolated as 25 x their mean, and the printout says so; 'all'
    times every fold). The feature cache is filled before timing (untimed warm-up fold)."""
    benchmark.group = "LODO, warm feature cache"
    session = _lodo_session("brisque")
    _fold_seconds(session, session.folds[0])             # warm-up: features into the cache
    want = os.environ.get("BENCH_CLASSICAL_FOLDS", "3")
    folds = session.folds if want == "all" else session.folds[1:1 + int(want)]
    times = []

    def sweep():
        times.clear()
        times.extend(_fold_seconds(session, f) for f in folds)

    benchmark.pedantic(sweep, rounds=1, iterations=1)
    per_fold = float(np.mean(times))
    total = sum(times) if want == "all" else 25 * per_fold
    how = "measured" if want == "all" else f"extrapolated from {len(folds)} folds"
    benchmark.extra_info.update({"fold_s": round(per_fold, 2), "lodo_25_s": round(total, 1),
                                 "how": how})
    print(f"\nbrisque warm-cache LODO fold: {per_fold:.1f} s (folds {', '.join(f.name for f in folds)}); "
          f"25 folds: {total:.0f} s ({how}; load {os.getloadavg()[0]:.1f})")
