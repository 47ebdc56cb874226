"""Causal-IQA parallel (CIP, paper Algorithm 2) and its ablations CIP\\C, CIP+L, CIP+M.

One meta-iteration: phi <- theta; ONE inner step (``method.inner_steps`` steps, each on
fresh minibatches) on the mean over subsets of the subset losses (Eq. 6 weighted), then
the meta step (method.meta_step).

The forward pass (``method.forward``) computes that one gradient either from one mixed
batch holding a minibatch of every subset (``mixed``) or from one forward/backward pass per
subset with the gradients accumulated before the single optimizer step (``per_subset``, the
default). Without BatchNorm both give the same gradient. With BatchNorm they differ: in
training mode a layer normalises with the statistics of the batch it sees, so in a mixed
batch every subset's loss depends on the other subsets' images. ``per_subset`` is the more
faithful reading: each subset loss L_s of Eq. 6 is evaluated on subset s alone (as CIS
evaluates it), the running statistics are updated once per subset, as in CIS and ERM,
rather than once per meta-iteration, and on the paper profile the mixed batch (48 x 102 =
4,896 images at 224 px on a KADID-10k fold) cannot have been one pass on the paper's four
11 GB GPUs.
"""
from __future__ import annotations

import numpy as np
import torch

from bench.engine.method import FitContext
from bench.core.settings import Setting

from .base import CAUSAL_SETTINGS, CausalMethod, register_with_ablations


def parallel_batch(batches, n_subsets: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one minibatch per subset, concatenated, and weights w_s / |S| so the
    weighted sum is the mean over subsets of the Eq. 6 subset losses (sums to 1)."""
    parts = [batches.next(k) for k in range(n_subsets)]
    pos = np.concatenate([p for p, _ in parts])
    w = np.concatenate([w for _, w in parts]) / n_subsets
    return pos, w


def accumulated_step(engine, opt: torch.optim.Optimizer, ts, parts: list) -> torch.Tensor:
    """One optimizer step on the mean over ``parts`` (a list of (positions, weights
    summing to 1), one per subset) of the weighted batch losses, with one forward and
    backward pass per part and the gradients accumulated, through ``Engine.apply`` (its
    budget counts, checks and step observers). Returns the mean loss (a device tensor)."""

    def losses():
        for pos, w in parts:
            x, y = engine.batch(ts, pos)
            wt = engine.upload(np.asarray(w) / len(parts), np.float32)
            yield engine.loss(engine.net(x), y, wt)

    return engine.apply(opt, losses(), sum(len(pos) for pos, _ in parts))


class CIP(CausalMethod):
    """Algorithm 2 (parallel)."""

    display = "CIP"
    settings = {**CAUSAL_SETTINGS, "forward": Setting(
        "per_subset", "str", "inner step's forward pass: per_subset = one pass per subset, "
        "gradients accumulated; mixed = one batch holding every subset's minibatch",
        choices=("per_subset", "mixed"))}

    def update(self, ctx: FitContext) -> list[float]:
        with self.inner_scope(ctx):
            return self._meta_iteration(ctx)

    def _meta_iteration(self, ctx: FitContext) -> list[float]:
        self.meta.begin()
        n = len(self.subsets)
        losses = []
        for _ in range(int(self.hp["inner_steps"])):
            if self.hp["forward"] == "mixed":
                pos, w = parallel_batch(self.batches, n)
                losses.append(ctx.engine.step(self.optimizer, ctx.train, pos, w))
            else:
                parts = [self.batches.next(k) for k in range(n)]
                losses.append(accumulated_step(ctx.engine, self.optimizer, ctx.train, parts))
        self.meta.end()
        return losses

    def describe(self) -> dict:
        return {**super().describe(), "forward": self.hp["forward"]}


register_with_ablations("cip", CIP)
