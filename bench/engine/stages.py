"""The stages of a fold: what trains the model a fold tests, in order. A protocol lists them
(``Fold.stages``); the engine runs each (``stage.run(run)``) and then tests the model.

* :class:`Fit`: the run's method trains a fresh model on the stage's records (and, for a
  full-reference method, ``unlabelled`` records without their MOS), per-epoch checkpoints
  in the run folder;
* :class:`Pretrain`: the same, as a model artifact shared by every fold, protocol and
  target that pretrains on the same records (``<runs>/models/``, bench/engine/artifacts.py);
* :class:`FineTune`: the model so far is fine-tuned on the stage's records by
  :class:`FineTuner`, a plain regression method (Adam, L1, uniform minibatches, the
  config's ``finetune`` schedule) run through the engine's one loop: its progress, budget
  counting, NaN checks and checkpoints are those of every fit.

A new stage is a subclass with its own ``run``: it reads and sets the :class:`FoldRun`
(the engine holding the model so far, how the backbone started, the facts to record) and
uses the engine's services (:func:`~bench.engine.fitting.fit_method`,
:func:`run_loop`). Nothing in the engine names a stage.

A method that trains no network (``Method.trains_network`` false) carries nothing from one
stage to the next: it is fitted once, by the last stage that trains, on that stage's
records (for a fine-tune fold: its fine-tuning split, intra-dataset as such methods are
evaluated); earlier stages leave it to that one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .loop import CheckpointDiscarded, FitContext, train
from .method import Method

Parts = list  # [(dataset name, record indices)]


@dataclass
class FoldRun:
    """One fold being trained: the session, the fold's config, the run folder, the log
    and the progress label; what the stages built so far: ``engine`` (its model), ``init``
    (how the backbone started) and ``facts`` (merged into the run record)."""

    session: object
    cfg: dict
    fold: object
    folder: object
    out_dir: Path
    log: Callable[[str], None]
    desc: str
    engine: object = None
    init: Optional[str] = None
    facts: dict = field(default_factory=dict)

    @property
    def trains_network(self) -> bool:
        """Whether the run's method trains a network a later stage can carry on."""
        return self.session.method_cls.trains_network

    def checkpoint(self, stage: Stage) -> Path:
        """The stage's checkpoint file in the run folder."""
        name = "checkpoint.pt" if stage.name == "fit" else f"checkpoint-{stage.name}.pt"
        return self.folder.path / name

    def fits_later(self, stage: Stage) -> bool:
        """Whether a stage after ``stage`` trains the model."""
        stages = list(self.fold.stages)
        return any(s.trains for s in stages[stages.index(stage) + 1:])


class Stage:
    """One step of a fold's training. ``name`` labels its progress bar, its checkpoint
    and its facts; ``trains``: it fits the model on labelled records; ``pairs``: a
    full-reference method may run it (a stage training a no-reference network may not)."""

    name: str = "stage"
    trains: bool = True
    pairs: bool = True

    def parts(self) -> Parts:
        """The (dataset, indices) parts it trains on with their MOS."""
        return []

    def unlabelled(self) -> Parts:
        """The parts it trains on without their MOS."""
        return []

    def fingerprint_label(self) -> str:
        """Under which label its records enter the fold's data fingerprint."""
        return self.name

    def run(self, r: FoldRun) -> None:  # pragma: no cover - interface
        """Train (or change) ``r.engine``'s model; add to ``r.facts``."""
        raise NotImplementedError


@dataclass(eq=False)
class Fit(Stage):
    """The run's method trains a fresh model on ``train`` (and ``unlabelled``)."""

    train: Parts = field(default_factory=list)
    unlabelled_parts: Parts = field(default_factory=list)
    name = "fit"

    def parts(self) -> Parts:
        return list(self.train)

    def unlabelled(self) -> Parts:
        return list(self.unlabelled_parts)

    def fingerprint_label(self) -> str:
        return "train"

    def run(self, r: FoldRun) -> None:
        from .fitting import fit_method
        from .session import with_extra

        from .holdout import holdout_split, score_holdout

        train, held = holdout_split(r.session, self.train, r.cfg, r.fold.name)
        r.engine, r.init, facts = fit_method(
            r.session, r.cfg, with_extra(r.session, train), r.fold.name, r.desc, r.log,
            r.checkpoint(self), self.unlabelled())
        r.facts.update(facts)
        if held:
            r.facts["holdout"] = score_holdout(r.session, r.engine, r.cfg, held, r.log, r.desc)


@dataclass(eq=False)
class Pretrain(Stage):
    """The run's method trains a model on ``train``, kept as an artifact shared by every
    fold that pretrains on the same records."""

    train: Parts = field(default_factory=list)
    name = "pretrain"
    pairs = False     # its artifacts are no-reference networks

    def parts(self) -> Parts:
        return list(self.train)

    def run(self, r: FoldRun) -> None:
        from .artifacts import pretrained_engine
        from .session import with_extra

        parts = with_extra(r.session, self.train)
        if not r.trains_network:
            if not r.fits_later(self):
                _fit_without_network(r, parts, "train sets")
            return
        r.engine, r.init, facts = pretrained_engine(r.session, r.cfg, parts, r.out_dir,
                                                    r.log, r.desc)
        r.facts.update(facts)


@dataclass(eq=False)
class FineTune(Stage):
    """The model so far is fine-tuned on ``train`` by :class:`FineTuner`; the model of the
    last epoch is kept (nothing is selected, so no validation split is needed)."""

    train: Parts = field(default_factory=list)
    name = "finetune"
    pairs = False

    def parts(self) -> Parts:
        return list(self.train)

    def fingerprint_label(self) -> str:
        return "train"

    def run(self, r: FoldRun) -> None:
        from .fitting import seed_torch, training_fit
        from .session import train_set_from, with_extra

        if not r.trains_network:
            _fit_without_network(r, with_extra(r.session, self.train), "finetune split")
            return
        seed_torch(r.cfg, r.fold.name)
        ts = train_set_from(r.session, self.train)
        steps = r.engine.optimizer_steps
        history = run_loop(FineTuner(r.cfg), r.engine, ts, r.cfg, f"{r.desc} finetune",
                           r.log, r.checkpoint(self))
        # the fit that matters is the fine-tuned model's, on its fine-tuning set
        pre = {f"pretrain_{k}": r.facts[k] for k in ("train_srocc", "train_plcc") if k in r.facts}
        r.facts.update({**pre, "finetune_loss_history": history, "n_finetune": len(ts),
                        "finetune_optimizer_steps": r.engine.optimizer_steps - steps,
                        **training_fit(r.engine, ts, r.cfg)})


def _fit_without_network(r: FoldRun, parts: Parts, fit_on: str) -> None:
    """The one fit of a method that trains no network, on ``parts`` (what ``fit_on``
    names in the record)."""
    from .fitting import fit_method

    r.engine, r.init, facts = fit_method(r.session, r.cfg, parts, r.fold.name, r.desc, r.log)
    r.facts.update({**facts, "fit_on": fit_on})


class FineTuner(Method):
    """Plain regression on every parameter of the model it is given: Adam at finetune.lr,
    the L1 loss, uniform minibatches of finetune.batch_size, finetune.epochs epochs of
    one pass over the training set each, a constant learning rate."""

    display = "fine-tune"
    stateful = ("optimizer", "sampler")

    def setup(self, ctx: FitContext) -> None:
        from .samplers import BatchSampler

        f = self.cfg["finetune"]
        self.optimizer = ctx.engine.adam(ctx.engine.model.parameters(), f["lr"])
        self.sampler = BatchSampler(np.arange(len(ctx.train)), f["batch_size"], ctx.engine.rng)

    def schedule(self) -> dict:
        return {"epochs": int(self.cfg["finetune"]["epochs"]), "lr_decay": 1.0,
                "lr_step_epochs": 1, "iterations_per_epoch": None}

    def iterations_per_epoch(self) -> int:
        return self.sampler.batches_per_pass

    def update(self, ctx: FitContext) -> float:
        return ctx.engine.step(self.optimizer, ctx.train, self.sampler.next(), loss_kind="l1")


def run_loop(method: Method, engine, ts, cfg: dict, desc: str, log: Callable[[str], None],
             checkpoint: Optional[Path] = None) -> list[float]:
    """Train ``engine``'s model (kept, not rebuilt) with ``method`` on ``ts`` through the
    engine's loop, with a progress bar and per-epoch checkpoints at ``checkpoint`` when
    train.checkpoint is on; the per-epoch losses. A checkpoint that cannot be used puts
    the model, the generator and the budget counts back as they were and starts over."""
    import copy

    from .fitting import progress

    ck = checkpoint if cfg["train"].get("checkpoint") else None
    start = (copy.deepcopy(engine.model.state_dict()), engine.rng.bit_generator.state,
             engine.images_seen, engine.optimizer_steps) if ck is not None else None
    while True:
        bar, history, epoch_done = progress(desc, int(method.schedule()["epochs"]))
        try:
            return train(method, FitContext(engine, ts, cfg, epoch_done, ck, log))
        except CheckpointDiscarded:
            engine.model.load_state_dict(start[0])
            engine.rng.bit_generator.state = start[1]
            engine.images_seen, engine.optimizer_steps = start[2], start[3]
        finally:
            bar.close()
