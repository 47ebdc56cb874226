"""Protocols own their stages: a protocol defined here, in a test, adds a stage of its own
(the regression head tuned alone, through the engine's loop) after LODO's fit, with no
change to the engine. The engine runs it like any stage: its facts, budget and progress
are recorded, its records enter the fold's data fingerprint, and only the head moves."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from bench import RunSpec, run
from bench.core.registry import PROTOCOLS
from bench.engine.loop import FitContext
from bench.engine.method import Method
from bench.engine.samplers import BatchSampler
from bench.engine.stages import Fit, FoldRun, Stage, run_loop
from bench.engine.session import train_set_from
from tests.test_run import NAME, release  # noqa: F401 - the tiny release fixture


class HeadOnly(Method):
    """Adam on the regression head alone, L1, finetune.epochs epochs of two batches."""

    stateful = ("optimizer", "sampler")

    def setup(self, ctx: FitContext) -> None:
        self.optimizer = ctx.engine.adam(ctx.engine.model.head.parameters(), 1e-2)
        self.sampler = BatchSampler(np.arange(len(ctx.train)), 4, ctx.engine.rng)

    def schedule(self) -> dict:
        return {"epochs": 2, "lr_decay": 1.0, "lr_step_epochs": 1, "iterations_per_epoch": 2}

    def iterations_per_epoch(self) -> int:
        return self.sampler.batches_per_pass

    def update(self, ctx: FitContext) -> float:
        return ctx.engine.step(self.optimizer, ctx.train, self.sampler.next(), loss_kind="l1")


@dataclass(eq=False)
class TuneHead(Stage):
    """The model so far, its head tuned alone on ``train`` through the engine's loop."""

    train: list = field(default_factory=list)
    name = "tune-head"
    pairs = False

    def parts(self):
        return list(self.train)

    def run(self, r: FoldRun) -> None:
        ts = train_set_from(r.session, self.train)
        steps = r.engine.optimizer_steps
        method = HeadOnly(r.cfg)
        history = run_loop(method, r.engine, ts, r.cfg, f"{r.desc} tune-head", r.log,
                           r.checkpoint(self))
        r.facts.update({"tune_head_loss_history": history, "tune_head_budget": method.budget,
                        "tune_head_steps": r.engine.optimizer_steps - steps})


@pytest.fixture
def lodo_then_head():
    """'lodo-head': LODO whose folds tune the head on half of their training images."""
    lodo = PROTOCOLS.get("lodo")

    class LodoThenHead(lodo):
        """LODO, then the head tuned alone (a test protocol with a stage of its own)."""

        def folds(self, opts, datasets, seed=0):
            out = super().folds(opts, datasets, seed)
            for fold in out:
                (name, train), = fold.method_parts()
                fold.stages = [Fit([(name, train)]), TuneHead([(name, train[::2])])]
            return out

    PROTOCOLS.add("lodo-head", LodoThenHead)
    yield "lodo-head"
    PROTOCOLS._items.pop("lodo-head", None)


def _state(folder):
    return torch.load(folder / "model.pt", map_location="cpu", weights_only=True)


def test_a_protocol_adds_a_stage_without_an_engine_edit(lodo_then_head, tmp_path, release):
    common = dict(method="erm", profile="smoke", folds=("A",), options={"dataset": NAME},
                  settings={"device": "cpu", f"data.{NAME}": str(release)})
    plain, = run(RunSpec(protocol="lodo", out=str(tmp_path / "plain"), **common))
    tuned, = run(RunSpec(protocol=lodo_then_head, out=str(tmp_path / "tuned"), **common))
    assert tuned.facts["loss_history"] == plain.facts["loss_history"]     # the same fit first
    assert len(tuned.facts["tune_head_loss_history"]) == 2
    assert tuned.facts["tune_head_steps"] == 4
    assert tuned.facts["tune_head_budget"]["epoch_unit"] == "iterations"
    # a different fold (its stage's records are in its data fingerprint), not a reused one
    assert tuned.facts["data_fingerprint"] != plain.facts["data_fingerprint"]
    (a,), (b,) = [[p for p in (tmp_path / d).iterdir() if p.is_dir()] for d in ("plain", "tuned")]
    sa, sb = _state(a), _state(b)
    weights = [k for k in sa if "running_" not in k and "num_batches" not in k]
    assert all(torch.equal(sa[k], sb[k]) for k in weights if k.startswith("backbone."))
    assert not all(torch.equal(sa[k], sb[k]) for k in weights if k.startswith("head."))
    assert not list(b.glob("checkpoint*.pt"))
