"""Causal-IQA serial (CIS, paper Algorithm 1) and its ablations CIS\\C, CIS+L, CIS+M.

One meta-iteration: phi <- theta; for every subset of S, in a fresh random order, one
inner optimizer step on a minibatch of that subset (Eq. 6 weighted); then the meta step
theta <- theta + beta (phi - theta) (DESIGN.md s.4).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from bench.meta import ReptileMeta
from bench.method import Method
from bench.registry import METHODS
from bench.train import FitContext, SubsetBatches


def serial_meta_iteration(meta: ReptileMeta, order: Sequence[int],
                          inner_step: Callable[[int], float]) -> list[float]:
    """One CIS meta-iteration: snapshot theta, one ``inner_step(k)`` per subset k in
    ``order``, meta step. Returns the inner losses in visiting order."""
    meta.begin()
    losses = [inner_step(k) for k in order]
    meta.end()
    return losses


class SubsetMetaMethod(Method):
    """Shared set-up of the causal paradigms: subsets, inner Adam, meta optimizer.

    clusters: None to use division.clusters, or a fixed count (1 for the \\C ablations);
    levels: distortion level as an extra confounder (+L).
    """

    clusters: int | None = None
    levels: bool = False

    def setup(self, ctx: FitContext):
        e, t, m = ctx.engine, self.cfg["train"], self.cfg["meta"]
        subsets = ctx.subsets(clusters=self.clusters, levels=self.levels)
        batches = SubsetBatches(subsets, ctx.train, ctx.subset_batch, e.rng)
        opt = e.adam(e.model.parameters(), t["lr"])
        meta = ReptileMeta(e.model.parameters(), m["optimizer"], m["lr"], m["betas"])
        return subsets, batches, opt, e.scheduler(opt), meta

    def iteration(self, ctx, subsets, batches, opt, meta) -> list[float]:  # pragma: no cover
        raise NotImplementedError

    def fit(self, ctx: FitContext) -> None:
        subsets, batches, opt, sched, meta = self.setup(ctx)
        for epoch in ctx.epoch_loop(opt=opt, sched=sched, meta=meta.opt, batches=batches):
            losses = []
            for _ in range(ctx.iterations(batches.iterations_per_epoch)):
                losses += self.iteration(ctx, subsets, batches, opt, meta)
            sched.step()
            ctx.epoch_done(epoch, float(np.mean(losses)))


class CIS(SubsetMetaMethod):
    """Algorithm 1 (serial)."""

    display = "CIS"

    def iteration(self, ctx, subsets, batches, opt, meta):
        e = ctx.engine

        def inner(k: int) -> float:
            pos, w = batches.next(k)
            return e.step(opt, ctx.train, pos, w)

        return serial_meta_iteration(meta, e.rng.permutation(len(subsets)), inner)


MLIVE_EXTRA = {"real": ["mlive"], "synthetic": ["syn-mlive"]}

# The paper's ablations of a causal paradigm:
# (registry suffix, display suffix, class-name suffix, attributes, doc).
ABLATIONS = [
    ("-c", "\\C", "NoContent", {"clusters": 1}, "without the content confounder (q = 1)"),
    ("+l", "+L", "Levels", {"levels": True}, "with distortion level as a confounder"),
    ("+m", "+M", "Multi", {"extra_train": MLIVE_EXTRA}, "with multiply-distorted training data"),
]


def register_with_ablations(name: str, cls: type) -> None:
    """Register ``cls`` as ``name`` and its ablations as ``name-c``, ``name+l``, ``name+m``
    (displayed e.g. CIS\\C, CIS+L, CIS+M)."""
    METHODS.add(name, cls)
    for suffix, shown, cls_suffix, attrs, doc in ABLATIONS:
        variant = type(f"{cls.__name__}{cls_suffix}", (cls,),
                       {"display": cls.display + shown, **attrs, "__doc__": f"{cls.display} {doc}."})
        METHODS.add(name + suffix, variant)


register_with_ablations("cis", CIS)
