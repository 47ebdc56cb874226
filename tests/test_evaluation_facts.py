"""The evaluation side of issue 10: the test view (test.view = resize | center), the
optimizer-step count beside images_seen, the training-set fit (train_srocc on a fixed
subsample) and the method's own facts, as they reach a run's metrics.json."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.config import resolve
from bench.data.bank import ImageBank, resize_images
from bench.core.errors import UsageError
from bench.engine.loop import FitContext
from bench.core.metrics import all_metrics
from bench.engine.models import build_model
from bench.core.registry import METHODS
from bench.engine.fitting import training_fit
from bench.engine.engine import Engine, TrainSet

CPU = torch.device("cpu")


def quality_set(n: int = 48, size: int = 40, seed: int = 0) -> TrainSet:
    """Images whose quality is their noise: MOS falls linearly with the noise SD. The
    noise is strongest at the border, so a centre crop and the whole image differ."""
    rng = np.random.default_rng(seed)
    imgs, mos = [], []
    ramp = np.abs(np.linspace(-1, 1, size))[:, None] + np.abs(np.linspace(-1, 1, size))[None, :]
    for k in range(n):
        sd = 5 + 60 * k / n
        noise = rng.normal(0, sd, (size, size, 3)) * (0.2 + ramp[..., None])
        imgs.append(np.clip(128 + noise, 0, 255).astype(np.uint8))
        mos.append(1.0 - k / n)
    bank = ImageBank([np.stack(imgs)])
    refs = [("q", k % 4) for k in range(n)]
    return TrainSet(bank, np.arange(n), np.asarray(mos, np.float32), ["q"] * n, ["noise"] * n,
                    [1] * n, refs)


def engine_for(view: str, **over) -> Engine:
    cfg = resolve("smoke", {"device": "cpu", "test.view": view, **over})
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    return Engine(cfg, model, CPU, np.random.default_rng(0))


@pytest.mark.slow
def test_resize_view_feeds_the_whole_image_resized_to_the_crop():
    ts = quality_set()
    idx = np.arange(6)
    resized = engine_for("resize")
    center = engine_for("center")
    side = resized.crop
    want = torch.from_numpy(resize_images(ts.bank.arrays[0][idx], side))
    assert torch.equal(resized.test_images(ts.bank, idx), want)
    assert torch.equal(center.test_images(ts.bank, idx), torch.from_numpy(ts.bank.center_crops(idx, side)))
    # predict runs the model on exactly that view, in eval mode
    resized.model.eval()
    with torch.no_grad():
        direct = resized.model(resized.to_float(want)).numpy().astype(np.float64)
    assert np.allclose(resized.predict(ts.bank, idx, len(idx)), direct, rtol=0, atol=1e-6)
    assert resized.model.training  # predict leaves the model in training mode
    # the two views are different inputs, so the same weights score them differently
    center.model.load_state_dict(resized.model.state_dict())
    assert not np.allclose(center.predict(ts.bank, idx, 4), resized.predict(ts.bank, idx, 4))


def test_test_view_is_checked_where_it_is_parsed():
    assert resolve("paper")["test"]["view"] == "resize"   # the MetaIQA reading
    with pytest.raises(UsageError, match="test.view"):
        resolve("smoke", {"test.view": "crops"})


@pytest.mark.slow
def test_steps_and_images_are_counted_for_every_update():
    ts = quality_set()
    e = engine_for("resize")
    opt = e.adam(e.model.parameters(), 1e-3)
    sizes = [5, 8, 3]
    for b in sizes:
        e.step(opt, ts, np.arange(b))
    assert (e.optimizer_steps, e.images_seen) == (len(sizes), sum(sizes))


def test_erm_budget_matches_its_schedule():
    """ERM on the smoke profile: epochs x iterations steps of train.batch_size images."""
    ts = quality_set()
    e = engine_for("resize")
    cfg = e.cfg
    cfg["method"] = "erm"
    METHODS.get("erm")(cfg).fit(FitContext(e, ts, cfg, lambda ep, loss: None))
    t = cfg["train"]
    steps = t["epochs"] * t["iterations_per_epoch"]
    assert e.optimizer_steps == steps and e.images_seen == steps * t["batch_size"]


def test_training_fit_is_a_fixed_subsample_scored_in_the_test_view():
    ts = quality_set(n=48)
    e = engine_for("resize")
    state = e.rng.bit_generator.state
    one = training_fit(e, ts, e.cfg, limit=20)
    two = training_fit(e, ts, e.cfg, limit=20)
    assert one == two and one["train_fit_n"] == 20
    assert e.rng.bit_generator.state == state          # training's generator untouched
    # the same numbers as scoring those images by hand
    pos = np.sort(np.random.default_rng([int(e.cfg["seed"]), 0x7F17]).choice(48, 20, replace=False))
    got = all_metrics(e.predict(ts.bank, ts.index[pos], 64), ts.mos[pos])
    assert (one["train_srocc"], one["train_plcc"]) == (got["srocc"], got["plcc"])
    assert training_fit(e, ts, e.cfg, limit=1000)["train_fit_n"] == 48


@pytest.mark.slow
def test_training_fit_rises_when_the_model_learns_its_training_set():
    """Underfitting is visible: an untrained model ranks the training images no better
    than chance; a few hundred ERM steps rank them well."""
    ts = quality_set(n=48)
    e = engine_for("resize", **{"train.lr": 3e-3})
    before = training_fit(e, ts, e.cfg)["train_srocc"]
    opt = e.adam(e.model.parameters(), 3e-3)
    rng = np.random.default_rng(1)
    for _ in range(150):
        e.step(opt, ts, rng.choice(48, 16, replace=False))
    after = training_fit(e, ts, e.cfg)["train_srocc"]
    assert after > 0.8 and after > before + 0.3


def test_model_width_sets_the_small_cnns_channels():
    narrow, _ = build_model(resolve("smoke", {"model.width": 8})["model"], lambda m: None)
    wide, _ = build_model(resolve("smoke", {"model.width": 24})["model"], lambda m: None)
    assert narrow.backbone.features[0].out_channels == 8 and narrow.backbone.out_features == 64
    assert wide.backbone.features[0].out_channels == 24 and wide.backbone.out_features == 192
    x = torch.rand(2, 3, 32, 32)
    assert narrow.eval()(x).shape == wide.eval()(x).shape == (2,)
    with pytest.raises(UsageError, match="model.width"):
        resolve("smoke", {"model.width": 0})
