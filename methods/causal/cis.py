"""Causal-IQA serial (CIS, paper Algorithm 1) and its ablations CIS\\C, CIS+L, CIS+M.

One meta-iteration: phi <- theta; for every subset of S, in a fresh random order,
``method.inner_steps`` inner optimizer steps (one by default) on fresh minibatches of that
subset (Eq. 6 weighted); then the meta step theta <- theta + beta (phi - theta)
(docs/readings.md). With beta = 1 and one inner step the meta step is the identity.
"""
from __future__ import annotations

from typing import Callable, Sequence

from bench.engine.method import FitContext

from .base import CausalMethod, register_with_ablations
from bench.methods.shared.reptile import ReptileMeta


def serial_meta_iteration(meta: ReptileMeta, order: Sequence[int],
                          inner_step: Callable[[int], float]) -> list[float]:
    """One CIS meta-iteration: snapshot theta, one ``inner_step(k)`` per subset k in
    ``order``, meta step. Returns the inner losses in visiting order."""
    meta.begin()
    losses = [inner_step(k) for k in order]
    meta.end()
    return losses


class CIS(CausalMethod):
    """Algorithm 1 (serial)."""

    display = "CIS"

    def update(self, ctx: FitContext) -> list[float]:
        e = ctx.engine

        steps = int(self.hp["inner_steps"])

        def inner(k: int) -> float:
            losses = []
            for _ in range(steps):
                pos, w = self.batches.next(k)
                losses.append(e.step(self.optimizer, ctx.train, pos, w))
            return losses[0] if steps == 1 else float(sum(losses) / steps)

        with self.inner_scope(ctx):
            return serial_meta_iteration(self.meta, e.rng.permutation(len(self.subsets)), inner)


register_with_ablations("cis", CIS)
