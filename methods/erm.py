"""Baseline ERM (paper Eq. 4): the same network and schedule trained on the union of the
training data, minibatches drawn uniformly. An epoch is the training-set size in images
(every image once), the budget every method gets."""
from __future__ import annotations

import numpy as np

from bench.engine.method import FitContext, Method
from bench.core.registry import METHODS
from bench.engine.samplers import BatchSampler


@METHODS.register("erm")
class ERM(Method):
    """Empirical risk minimisation with the inner Adam and its step schedule."""

    display = "Baseline"
    stateful = ("optimizer", "sampler")
    epoch_unit = "images"

    def setup(self, ctx: FitContext) -> None:
        e, t = ctx.engine, self.cfg["train"]
        self.optimizer = e.adam(e.model.parameters(), t["lr"])
        self.sampler = BatchSampler(np.arange(len(ctx.train)), t["batch_size"], e.rng)

    def iterations_per_epoch(self) -> int:
        return self.sampler.batches_per_pass

    def update(self, ctx: FitContext) -> float:
        return ctx.engine.step(self.optimizer, ctx.train, self.sampler.next())
