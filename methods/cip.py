"""Causal-IQA parallel (CIP, paper Algorithm 2) and its ablations CIP\\C, CIP+L, CIP+M.

One meta-iteration: phi <- theta; ONE inner step on the mean over subsets of the subset
losses (Eq. 6 weighted), from one batch holding a minibatch of every subset; then the meta
step theta <- theta + beta (phi - theta).
"""
from __future__ import annotations

import numpy as np

from .cis import SubsetMetaMethod, register_with_ablations


def parallel_batch(batches, n_subsets: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one minibatch per subset, concatenated, and weights w_s / |S| so the
    weighted sum is the mean over subsets of the Eq. 6 subset losses (sums to 1)."""
    parts = [batches.next(k) for k in range(n_subsets)]
    pos = np.concatenate([p for p, _ in parts])
    w = np.concatenate([w for _, w in parts]) / n_subsets
    return pos, w


class CIP(SubsetMetaMethod):
    """Algorithm 2 (parallel)."""

    display = "CIP"

    def iteration(self, ctx, subsets, batches, opt, meta):
        meta.begin()
        pos, w = parallel_batch(batches, len(subsets))
        loss = ctx.engine.step(opt, ctx.train, pos, w)
        meta.end()
        return [loss]


register_with_ablations("cip", CIP)
