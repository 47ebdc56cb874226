"""MetaIQA baseline (Zhu et al., CVPR 2020), as DESIGN.md s.4 reads the official code with
its two known bugs fixed: one task per distortion type, each split 80/20 (seeded) into
support and query images; per task one Adam step on a support batch, then one on a query
batch; after all tasks (in random order) the meta step theta <- theta + (phi - theta) /
task_num. MSE loss; Adam lr train.lr for the backbone and metaiqa.head_lr for the head.
"""
from __future__ import annotations

import numpy as np

from bench.division import Subset
from bench.meta import ReptileMeta
from bench.method import Method
from bench.registry import METHODS
from bench.train import FitContext, SubsetBatches


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

    def fit(self, ctx: FitContext) -> None:
        e, t, mc = ctx.engine, self.cfg["train"], self.cfg["metaiqa"]
        tasks = ctx.subsets(clusters=1, levels=False)  # one subset per type, uniform weights
        split_rng = np.random.default_rng([self.cfg["seed"], 7])
        support, query = [], []
        for task in tasks:
            s, q = support_query_split(task.items, mc["support_frac"], split_rng)
            support.append(Subset(task.key, s, np.full(len(s), 1.0 / len(s))))
            query.append(Subset(task.key, q, np.full(len(q), 1.0 / len(q))))
        sup = SubsetBatches(support, ctx.train, ctx.subset_batch, e.rng)
        qry = SubsetBatches(query, ctx.train, ctx.subset_batch, e.rng)
        model = e.model
        opt = e.adam([{"params": model.backbone.parameters(), "lr": t["lr"]},
                      {"params": model.head.parameters(), "lr": mc["head_lr"]}], t["lr"])
        sched = e.scheduler(opt)
        # theta + (phi - theta) / task_num is plain SGD on (theta - phi) with lr 1/task_num.
        meta = ReptileMeta(model.parameters(), "sgd", 1.0 / len(tasks))
        for epoch in ctx.epoch_loop(opt=opt, sched=sched, meta=meta.opt, support=sup, query=qry):
            losses = []
            for _ in range(ctx.iterations(sup.iterations_per_epoch)):
                meta.begin()
                for k in e.rng.permutation(len(tasks)):
                    e.step(opt, ctx.train, sup.next(k)[0], loss_kind=mc["loss"])
                    losses.append(e.step(opt, ctx.train, qry.next(k)[0], loss_kind=mc["loss"]))
                meta.end()
            sched.step()
            ctx.epoch_done(epoch, float(np.mean(losses)))
