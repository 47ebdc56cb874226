"""train.budget (issue 23): an epoch counts images (the training set's size) or optimizer
steps (ERM's steps on those images), and the run's budget facts say which."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.config import resolve
from bench.core.errors import UsageError
from bench.engine.engine import Engine
from bench.engine.loop import FitContext
from bench.engine.method import Method
from test_meta import TinyLinearIQA, tiny_trainset


class ThreeImageSteps(Method):
    """Every update is one optimizer step on 3 training images (a small-batch method)."""

    epoch_unit = "images"

    def setup(self, ctx):
        self.optimizer = ctx.engine.adam(ctx.engine.model.parameters(), 1e-3)

    def iterations_per_epoch(self) -> int:
        return 1

    def update(self, ctx) -> float:
        return ctx.engine.step(self.optimizer, ctx.train, ctx.engine.rng.choice(len(ctx.train), 3))


def _fit(budget: str) -> tuple[Engine, Method]:
    ts, _ = tiny_trainset(4)    # 24 images
    cfg = resolve("smoke", {"data.size": 4, "data.crop": 4, "train.epochs": 2,
                            "train.batch_size": 4, "train.iterations_per_epoch": None,
                            "train.budget": budget})
    engine = Engine(cfg, TinyLinearIQA(4), torch.device("cpu"), np.random.default_rng(0))
    method = ThreeImageSteps(cfg)
    method.fit(FitContext(engine, ts, cfg, lambda e, l: None))
    return engine, method


@pytest.mark.slow
def test_images_budget_counts_images_and_steps_budget_counts_erm_steps():
    engine, method = _fit("images")     # 2 epochs x 24 images at 3 a step
    assert (engine.images_seen, engine.optimizer_steps) == (48, 16)
    assert method.budget["budget"] == "images" and method.budget["epoch_steps"] is None
    engine, method = _fit("steps")      # 2 epochs x ceil(24 / 4) ERM steps
    assert (engine.images_seen, engine.optimizer_steps) == (36, 12)
    assert method.budget["budget"] == "steps" and method.budget["epoch_steps"] == 6


def test_budget_is_checked_where_it_is_set():
    with pytest.raises(UsageError, match="train.budget"):
        resolve("smoke", {"train.budget": "epochs"})
