"""MetaIQA baseline (Zhu et al., CVPR 2020) as its official code
(``MetaIQA_On_TID2013_KADID.py``) trains, without its two known bugs.

Tasks: one per distortion type of the training data; each task's images are split, with a
seeded draw, into support (method.support_frac) and query images. A meta-iteration is a
meta-batch of method.meta_batch tasks (5), taken in turn from a shuffled queue of all tasks.
For every task, phi is reset to theta; the task then alternates one inner step on a support
batch with one on a query batch until its support images are used up (a support pass; the
query batches cycle). All inner steps share one Adam, with lr train.lr on the backbone and
method.head_lr on the regression head, and the loss is the squared error. After the
meta-batch, theta <- theta + beta * mean over its tasks of (phi_k - theta) (beta = 1: the
official plain mean). BatchNorm running statistics take the same step (method.bn_stats).

Batch sizes (method.support_batch / query_batch) and schedule (method.epochs, lr_decay,
lr_step_epochs) are MetaIQA's own on the paper profile (75 / 50; lr x 0.9 every 2 epochs,
50 epochs); elsewhere they follow method.subset_batch and the profile's train schedule, so
the quick and smoke budgets equal the other methods' (an epoch = the training-set size in
images).

Deviations from the official code, on purpose:
* its KADID-10k phase takes the task delta from the meta model instead of from the task's
  start; here every task's delta is phi_k - theta (its TID2013 phase's rule);
* its learning-rate decay is compounded every epoch (lr *= 0.9 ** (epoch // 2) each epoch);
  here lr = lr0 * 0.9 ** (epoch // 2);
* it adds the running delta / 5 to the meta model after every support/query pair and counts
  meta-batches in batches, not tasks; here the mean delta is added once per meta-batch of
  tasks (the last meta-batch of the queue may hold fewer tasks: the mean is over those);
* it redraws the support/query split every epoch, unseeded; here the split is drawn once,
  seeded; it trains TID2013 then KADID-10k in two phases per epoch; here one queue holds
  every training type of every dataset;
* BatchNorm statistics are never copied by its meta step (the tested model's statistics
  come from the last task's inner loop; it also tests phi, not the meta model); here they
  take the meta step (or are recomputed, method.bn_stats) and theta is tested.
"""
from __future__ import annotations

import numpy as np

from bench.core.registry import METHODS
from bench.core.settings import Setting
from bench.engine.method import FitContext, Method
from bench.methods.shared.batchnorm import bn_buffers, recompute_bn_stats
from bench.methods.shared.division import Subset, divide
from bench.methods.shared.reptile import ReptileMeta, inner_adam
from bench.methods.shared.subsets import SUBSET_BATCH, SubsetBatches, subset_batch


def support_query_split(items: np.ndarray, support_frac: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split a task's training positions into (support, query), at least one of each."""
    perm = rng.permutation(items)
    k = min(max(1, int(round(support_frac * len(perm)))), len(perm) - 1)
    return np.sort(perm[:k]), np.sort(perm[k:])


class TaskQueue:
    """Tasks in a fresh random order, pass after pass: ``take(n)`` gives the next up to n
    task indices of the current pass (a meta-batch never spans two passes)."""

    def __init__(self, n_tasks: int, rng: np.random.Generator):
        self.n, self.rng = n_tasks, rng
        self.order: list[int] = []

    def take(self, n: int) -> list[int]:
        """The next meta-batch: up to ``n`` task indices."""
        if not self.order:
            self.order = [int(k) for k in self.rng.permutation(self.n)]
        got, self.order = self.order[:n], self.order[n:]
        return got

    def state_dict(self) -> dict:
        """The rest of the current pass (plain ints)."""
        return {"order": list(self.order)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self.order = [int(k) for k in state["order"]]


def _nullable_int(paper: int, doc: str) -> Setting:
    return Setting(None, "int", doc, low=1, nullable=True, per_profile={"paper": paper})


@METHODS.register("metaiqa")
class MetaIQA(Method):
    """Deep meta-learning over distortion-type tasks."""

    display = "MetaIQA"
    settings = {
        "support_frac": Setting(0.8, "float", "share of a task's images in its support set "
                                "(the rest is the query set), seeded", low=0.01, high=0.99,
                                search=("uniform", 0.6, 0.9)),
        "head_lr": Setting(1e-2, "float", "Adam lr of the regression head (backbone: train.lr)",
                           low=0, search=("log-uniform", 1e-3, 3e-2)),
        "loss": Setting("mse", "str", "inner loss", choices=("l1", "mse")),
        "meta_batch": Setting(5, "int", "tasks per meta step", low=1,
                              search=("choice", (3, 5, 8))),
        "beta": Setting(1.0, "float", "meta step size: theta + beta * mean task delta "
                        "(1 = the official mean)", low=1e-6, high=1.0,
                        search=("uniform", 0.1, 1.0)),
        "bn_stats": Setting("interp", "str", "BatchNorm statistics: interp = moved by the meta "
                            "step; recompute = recomputed at theta before testing",
                            choices=("interp", "recompute")),
        "subset_batch": SUBSET_BATCH,
        "support_batch": _nullable_int(75, "support batch (null: method.subset_batch)"),
        "query_batch": _nullable_int(50, "query batch (null: method.subset_batch)"),
        "epochs": _nullable_int(50, "epochs (null: train.epochs)"),
        "lr_step_epochs": _nullable_int(2, "inner lr decays every this many epochs (null: "
                                        "train.lr_step_epochs)"),
        "lr_decay": Setting(None, "float", "inner lr decay factor (null: train.lr_decay)",
                            low=0, nullable=True, per_profile={"paper": 0.9}),
    }
    stateful = ("optimizer", "meta", "support", "query", "queue")
    epoch_unit = "images"
    meta = None

    def schedule(self) -> dict:
        own = {k: self.hp[k] for k in ("epochs", "lr_decay", "lr_step_epochs")
               if self.hp[k] is not None}
        return {**super().schedule(), **own}

    def setup(self, ctx: FitContext) -> None:
        e, hp = ctx.engine, self.hp
        self.tasks, _ = divide(ctx.train, 1, int(self.cfg["seed"]), log=ctx.log)  # one per type
        split_rng = np.random.default_rng([self.cfg["seed"], 7])
        support, query = [], []
        for task in self.tasks:
            s, q = support_query_split(task.items, hp["support_frac"], split_rng)
            support.append(Subset(task.key, s, np.full(len(s), 1.0 / len(s))))
            query.append(Subset(task.key, q, np.full(len(q), 1.0 / len(q))))

        def sizer(key: str):
            return lambda dataset: hp[key] or subset_batch(hp, dataset)

        self.support = SubsetBatches(support, ctx.train, sizer("support_batch"), e.rng)
        self.query = SubsetBatches(query, ctx.train, sizer("query_batch"), e.rng)
        self.queue = TaskQueue(len(self.tasks), e.rng)
        self.optimizer = inner_adam(e, self.cfg["train"]["lr"], hp["head_lr"])
        buffers = bn_buffers(e.model) if hp["bn_stats"] == "interp" else []
        self.meta = ReptileMeta(e.model.parameters(), "interp", hp["beta"], buffers=buffers)

    def iterations_per_epoch(self) -> int:
        return -(-len(self.tasks) // self.hp["meta_batch"])

    def update(self, ctx: FitContext) -> list[float]:
        e, kind, losses = ctx.engine, self.hp["loss"], []
        self.meta.begin()
        for k in self.queue.take(self.hp["meta_batch"]):
            for _ in range(self.support.samplers[k].batches_per_pass):
                e.step(self.optimizer, ctx.train, self.support.next(k)[0], loss_kind=kind)
                losses.append(e.step(self.optimizer, ctx.train, self.query.next(k)[0],
                                     loss_kind=kind))
            self.meta.task_done()
        self.meta.end_tasks()
        return losses

    def end_training(self, ctx: FitContext) -> None:
        if self.hp["bn_stats"] == "recompute":
            recompute_bn_stats(ctx.engine, ctx.train, self.cfg["train"]["batch_size"])

    def describe(self) -> dict:
        return {**super().describe(), "meta_step": "interp (mean task delta)",
                "beta": self.hp["beta"], "bn_stats": self.hp["bn_stats"],
                "head_lr": self.hp["head_lr"], "tasks": len(getattr(self, "tasks", [])),
                "meta_steps": self.meta.steps if self.meta is not None else 0}
