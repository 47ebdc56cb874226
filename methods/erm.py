"""Baseline ERM (paper Eq. 4): the same network and schedule trained on the union of the
training data, minibatches drawn uniformly."""
from __future__ import annotations

import numpy as np

from bench.method import Method
from bench.registry import METHODS
from bench.train import BatchSampler, FitContext


@METHODS.register("erm")
class ERM(Method):
    """Empirical risk minimisation with the inner Adam and its step schedule."""

    display = "Baseline"

    def fit(self, ctx: FitContext) -> None:
        e, t = ctx.engine, self.cfg["train"]
        opt = e.adam(e.model.parameters(), t["lr"])
        sched = e.scheduler(opt)
        sampler = BatchSampler(np.arange(len(ctx.train)), t["batch_size"], e.rng)
        for epoch in ctx.epoch_loop(opt=opt, sched=sched, sampler=sampler):
            losses = [e.step(opt, ctx.train, sampler.next()) for _ in range(ctx.iterations(sampler.batches_per_pass))]
            sched.step()
            ctx.epoch_done(epoch, float(np.mean(losses)))
