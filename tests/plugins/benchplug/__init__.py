"""A tiny method plug-in, installed in tests through real package metadata (a
``*.dist-info`` with ``entry_points.txt`` in the group ``bench.methods``): ERM whose inner
learning rate is train.lr times its own hyperparameter ``lr_scale``."""
import numpy as np

from bench.engine.method import Method
from bench.core.registry import METHODS
from bench.engine.samplers import BatchSampler
from bench.core.settings import Setting


@METHODS.register("plug-erm")
class ScaledERM(Method):
    """ERM at ``lr_scale`` x train.lr."""

    display = "PlugERM"
    settings = {"lr_scale": Setting(1.0, "float", "multiplies train.lr", low=0, high=100)}
    stateful = ("optimizer", "sampler")

    def setup(self, ctx):
        e, t = ctx.engine, self.cfg["train"]
        self.optimizer = e.adam(e.model.parameters(), t["lr"] * self.hp["lr_scale"])
        self.sampler = BatchSampler(np.arange(len(ctx.train)), t["batch_size"], e.rng)

    def iterations_per_epoch(self):
        return self.sampler.batches_per_pass

    def update(self, ctx):
        return ctx.engine.step(self.optimizer, ctx.train, self.sampler.next())
