"""Causal-IQA parallel (CIP, paper Algorithm 2) and its ablations CIP\\C, CIP+L, CIP+M.

One meta-iteration: phi <- theta; ONE inner step on the mean over subsets of the subset
losses (Eq. 6 weighted), from one batch holding a minibatch of every subset; then the meta
step theta <- theta + beta (phi - theta).
"""
from __future__ import annotations

import numpy as np

from bench.method import FitContext

from .base import CausalMethod, register_with_ablations


def parallel_batch(batches, n_subsets: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one minibatch per subset, concatenated, and weights w_s / |S| so the
    weighted sum is the mean over subsets of the Eq. 6 subset losses (sums to 1)."""
    parts = [batches.next(k) for k in range(n_subsets)]
    pos = np.concatenate([p for p, _ in parts])
    w = np.concatenate([w for _, w in parts]) / n_subsets
    return pos, w


class CIP(CausalMethod):
    """Algorithm 2 (parallel)."""

    display = "CIP"

    def update(self, ctx: FitContext) -> list[float]:
        self.meta.begin()
        pos, w = parallel_batch(self.batches, len(self.subsets))
        loss = ctx.engine.step(self.optimizer, ctx.train, pos, w)
        self.meta.end()
        return [loss]


register_with_ablations("cip", CIP)
