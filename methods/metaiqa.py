"""MetaIQA baseline (Zhu et al., CVPR 2020), as DESIGN.md s.4 reads the official code with
its two known bugs fixed: one task per distortion type, each split 80/20 (seeded) into
support and query images; per task one Adam step on a support batch, then one on a query
batch; after all tasks (in random order) the meta step theta <- theta + (phi - theta) /
task_num. Adam lr train.lr for the backbone and method.head_lr for the head.
"""
from __future__ import annotations

import numpy as np

from bench.division import Subset
from bench.method import FitContext, Method
from bench.registry import METHODS
from bench.samplers import SubsetBatches
from bench.settings import Setting

from .causal.reptile import ReptileMeta


def support_query_split(items: np.ndarray, support_frac: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split a task's training positions into (support, query), at least one of each."""
    perm = rng.permutation(items)
    k = min(max(1, int(round(support_frac * len(perm)))), len(perm) - 1)
    return np.sort(perm[:k]), np.sort(perm[k:])


@METHODS.register("metaiqa")
class MetaIQA(Method):
    """Deep meta-learning over distortion-type tasks."""

    display = "MetaIQA"
    settings = {
        "support_frac": Setting(0.8, "float", "share of a task's images in its support set "
                                "(the rest is the query set), seeded", low=0.01, high=0.99),
        "head_lr": Setting(1e-2, "float", "Adam lr of the regression head (backbone: train.lr)",
                           low=0),
        "loss": Setting("mse", "str", "inner loss", choices=("l1", "mse")),
    }
    stateful = ("optimizer", "meta_opt", "support", "query")

    def setup(self, ctx: FitContext) -> None:
        e, hp = ctx.engine, self.hp
        self.tasks = ctx.subsets(clusters=1, levels=False)  # one per type, uniform weights
        split_rng = np.random.default_rng([self.cfg["seed"], 7])
        support, query = [], []
        for task in self.tasks:
            s, q = support_query_split(task.items, hp["support_frac"], split_rng)
            support.append(Subset(task.key, s, np.full(len(s), 1.0 / len(s))))
            query.append(Subset(task.key, q, np.full(len(q), 1.0 / len(q))))
        self.support = SubsetBatches(support, ctx.train, ctx.subset_batch, e.rng)
        self.query = SubsetBatches(query, ctx.train, ctx.subset_batch, e.rng)
        model = e.model
        lr = self.cfg["train"]["lr"]
        self.optimizer = e.adam([{"params": model.backbone.parameters(), "lr": lr},
                                 {"params": model.head.parameters(), "lr": hp["head_lr"]}], lr)
        # theta + (phi - theta) / task_num is plain SGD on (theta - phi) with lr 1/task_num.
        self.meta = ReptileMeta(model.parameters(), "sgd", 1.0 / len(self.tasks))
        self.meta_opt = self.meta.opt

    def iterations_per_epoch(self) -> int:
        return self.support.iterations_per_epoch

    def update(self, ctx: FitContext) -> list[float]:
        e, loss, losses = ctx.engine, self.hp["loss"], []
        self.meta.begin()
        for k in e.rng.permutation(len(self.tasks)):
            e.step(self.optimizer, ctx.train, self.support.next(k)[0], loss_kind=loss)
            losses.append(e.step(self.optimizer, ctx.train, self.query.next(k)[0], loss_kind=loss))
        self.meta.end()
        return losses
