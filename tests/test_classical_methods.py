"""The classical methods as harness methods: each lowers its training error below a
constant predictor's on a toy LODO fold (NIQE, which reads no MOS, ranks the training
images in the MOS order); a run through the command line records predictions and the
fallback counts; the feature cache is written once and read back; protocols with a
pretraining stage are refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import test_run
import torch
from test_run import NAME, load_release, run_cli, run_folders

from bench.engine import session as plan
from bench.core.config import resolve
from bench.engine.loop import FitContext
from bench.engine.models import build_model
from bench.core.registry import METHODS
from bench.engine.engine import Engine
from bench.methods.classical import cache

release = test_run.release   # the tiny on-disk release fixture

CLASSICAL = ("brisque", "niqe", "cornia", "hosa", "bliinds2")
DISPLAY = {"brisque": "BRISQUE", "niqe": "NIQE", "cornia": "CORNIA", "hosa": "HOSA",
           "bliinds2": "BLIINDS-II"}


def _fit(release_root, method: str, **settings):
    """Fit ``method`` on fold A of the tiny release (smoke profile) through the runner's plan;
    (the method object, the training set, the engine)."""
    cfg = resolve("smoke", {"device": "cpu"}, method=method)
    cfg["data"]["paths"] = {NAME: str(release_root)}
    cfg["method_settings"].update(settings)
    cfg["protocol"] = {"name": "lodo", "dataset": NAME}
    session = plan.prepare(cfg, log=lambda m: None)
    fold = session.folds[0]
    model, _ = build_model(cfg["model"], log=lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    ts = plan.train_set_from(session, fold.method_parts())
    obj = session.method_cls(cfg)
    obj.fit(FitContext(engine, ts, cfg, lambda e, loss: None, log=lambda m: None))
    engine.predictor = obj.predict_images          # as the runner does after fit
    return obj, ts, engine


def test_registered_with_the_tables_names():
    for name in CLASSICAL:
        assert METHODS.get(name).display == DISPLAY[name]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["brisque", "cornia", "hosa", "bliinds2"])
def test_trained_methods_beat_a_constant_on_their_training_images(release, method):
    obj, ts, engine = _fit(release, method)
    pred = engine.predict(ts.bank, ts.index, 64)          # the runner's call, the method's answer
    mse = float(np.mean((pred - ts.mos) ** 2))
    constant = float(np.var(ts.mos))                       # the best constant's training MSE
    assert mse < 0.8 * constant, f"{method}: training MSE {mse:.5f} vs constant {constant:.5f}"
    assert obj.facts["n_train_fallback"] == 0 and obj.facts["n_imputed_train"] == 0


def natural_release(root) -> None:
    """Rewrite the tiny release's images from natural pictures (the blocky references have
    too few textured patches for a 36-dimensional Gaussian): the same names, the same
    distortions (A noise, B darkening, C quantisation, stronger with the level)."""
    from PIL import Image
    from skimage import data, transform, util

    rng = np.random.default_rng(0)
    for r, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
        base = util.img_as_ubyte(transform.resize(getattr(data, name)(), (40, 40),
                                                  anti_aliasing=True)).astype(float)
        Image.fromarray(base.astype(np.uint8)).save(root / f"ref{r}.png")
        for t in "ABC":
            for lv in (1, 2):
                img = (base + rng.normal(0, 25 * lv, base.shape) if t == "A" else
                       base * (1 - 0.3 * lv) if t == "B" else np.floor(base / (32 * lv)) * 32 * lv)
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / f"img_{r}_{t}_{lv}.png")


@pytest.mark.slow
def test_niqe_rates_stronger_noise_and_quantisation_worse_without_reading_mos(release):
    natural_release(release)
    obj, ts, engine = _fit(release, "niqe", sharpness=0.0)
    assert obj.facts["pristine_images"] == 4 and obj.facts["n_reference_standins"] == 0
    names = [r.image for r in load_release(release).records]
    pred = dict(zip(names, engine.predict(ts.bank, np.arange(len(names)), 64)))
    # A (noise) is the held-out type of this fold, C (quantisation) a training type;
    # darkening (B) leaves MSCN statistics unchanged, as NIQE's normalisation intends
    for t in "AC":
        for r in range(4):
            assert pred[f"img_{r}_{t}_2.png"] < pred[f"img_{r}_{t}_1.png"], (t, r)


def test_feature_cache_is_written_once_and_read_back(release, monkeypatch):
    _, ts, engine = _fit(release, "brisque")
    files = sorted((cache.cache_root() / cache.FOLDER).glob("brisque-v*.npz"))
    assert len(files) == 1 and NAME in files[0].name      # keyed by the decoded array's name
    first = engine.predict(ts.bank, ts.index, 64)
    cache.clear_memo()
    monkeypatch.setattr("bench.methods.classical.api.extract",
                        lambda *a, **k: pytest.fail("features recomputed despite the cache"))
    _, _, engine2 = _fit(release, "brisque")
    np.testing.assert_array_equal(engine2.predict(ts.bank, ts.index, 64), first)


def test_lodo_run_records_predictions_and_fallback_counts(release, tmp_path):
    out = tmp_path / "out"
    assert run_cli(release, out, method="brisque", folds="A") == 0
    folder = run_folders(out)["A"]
    m = json.loads((folder / "metrics.json").read_text())
    facts = m["method_facts"]
    assert m["method_display"] == "BRISQUE" and m["n"] == 8
    assert facts["n_train_fallback"] == 0 and facts["n_predict_fallback"] == 0
    assert set(facts["svr_params"]) == {"svr__C", "svr__gamma"}
    rows = (folder / "predictions.csv").read_text().splitlines()[1:]
    assert len(rows) == 8 and all(np.isfinite(float(r.split(",")[-1])) for r in rows)
    assert not (folder / "model.pt").exists()           # no network, so no model.pt


def test_flat_images_are_counted_fallbacks(release):
    from PIL import Image

    flat = release / "img_0_B_1.png"
    Image.fromarray(np.full((24, 24, 3), 128, np.uint8)).save(flat)
    obj, ts, engine = _fit(release, "brisque")
    assert obj.facts["n_train_fallback"] == 1 and obj.facts["n_imputed_train"] == 1
    assert np.all(np.isfinite(engine.predict(ts.bank, ts.index, 64)))


def test_cross_fits_on_the_training_set_and_finetune_on_the_split(release, tmp_path, monkeypatch):
    """A method without a network under the pretraining protocols: cross fits on the
    training set and tests the target; finetune fits on each split's training part (nothing
    to transfer from pretraining), so its n_train is the split's size; no model artifact."""
    from bench.cli import main
    from bench.data.registry import DATASETS, DatasetSpec

    monkeypatch.setitem(DATASETS, NAME + "2", DatasetSpec(NAME + "2", load_release,
                                                          kind="synthetic", synthetic=False))
    common = ["--method", "brisque", "--profile", "smoke", "--device", "cpu", "--train", NAME,
              "--targets", NAME + "2", "--set", f"data.{NAME}={release}",
              "--set", f"data.{NAME}2={release}", "--quiet"]
    assert main(["run", "--protocol", "cross", *common, "--out", str(tmp_path / "x")]) == 0
    rec = json.loads(next((tmp_path / "x").glob("*/metrics.json")).read_text())
    assert rec["fit_on"] == "train sets" and rec["n_train"] == 24 and np.isfinite(rec["srocc"])
    assert main(["run", "--protocol", "finetune", *common, "--splits", "2", "--train-ratio",
                 "0.5", "--out", str(tmp_path / "f")]) == 0
    recs = [json.loads(f.read_text()) for f in (tmp_path / "f").glob("*/metrics.json")]
    assert len(recs) == 2 and all(r["fit_on"] == "finetune split" for r in recs)
    assert all(r["n_train"] == 12 for r in recs)            # half of the 4 references x 6
    assert not (tmp_path / "f" / "models").exists() and not (tmp_path / "x" / "models").exists()


def test_quick_profile_searches_a_smaller_grid_than_paper():
    quick = METHODS.get("brisque")(resolve("quick", method="brisque"))
    paper = METHODS.get("brisque")(resolve("paper", method="brisque"))
    assert (quick.hp["grid"], quick.hp["cv_folds"]) == ("small", 3)
    assert (paper.hp["grid"], paper.hp["cv_folds"]) == ("full", 5)
