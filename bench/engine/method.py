"""The method interface. A method is a class registered by name in ``bench.core.registry.METHODS``
(``@METHODS.register("erm")``) that implements small hooks; the engine's loop
(:func:`bench.engine.loop.train`) owns the epochs, the inner schedule, checkpoints, NaN checks and
progress around them (DomainBed's ``update`` contract):

* ``setup(ctx)``: build what the method needs (optimizer, samplers, subsets); set
  ``self.optimizer`` to the inner optimizer the engine's step schedule drives (or None);
* ``iterations_per_epoch()``: iterations in a natural epoch (the loop caps it with the
  schedule's iterations_per_epoch, train.iterations_per_epoch by default);
* ``update(ctx)``: one iteration on the batches the method asks for; its loss(es);
* ``end_epoch(ctx, epoch)``: optional; ``end_training(ctx)``: optional, after the last
  epoch (e.g. recomputing BatchNorm statistics);
* ``schedule()``: the epochs and inner lr schedule (train.* unless the method has its own);
* ``describe()``: what the run record should say about how the method trained (its
  readings, budget and counts), a JSON-able dict the runner stores in the record's facts;
* ``build_model(cfg, log)``: classmethod, the network the method trains (default: the
  config's ``model`` tree through :func:`bench.engine.models.build_model`), overridden by
  a method with an architecture of its own;
* ``check_training(cfg, fold, records)``: classmethod, a UsageError before any image is
  decoded when the method's settings cannot work on a fold's training records;
* ``weights_files(cfg)``: classmethod, the weights files the method loads besides the
  backbone's (by role), which enter the run identity by digest;
* ``trains_network`` / ``predict_images(bank, index, batch_size)``: a method that trains no
  network says so and scores images itself (no model.pt, nothing carried between stages).

Budgets: a method whose ``epoch_unit`` is 'images' ends an epoch when it has seen
``ctx.epoch_images()`` images (the training-set size), so methods with different
iterations see equal images per epoch; 'iterations' (the default, for plug-ins) keeps
``iterations_per_epoch`` calls of ``update``.

A method declares its own hyperparameters in ``settings`` (name -> :class:`Setting`, with a
default per profile where they differ); the resolved config holds them under
``cfg["method_settings"]``, ``--set method.<name>=V`` sets one. A variant that pins some of
them (an ablation: CIS\\C trains with one content cluster) says so in ``fixed`` (name ->
value): the config is filled with those values and refuses others. What a run effectively
used is :meth:`Method.effective_settings` (``self.hp``); the run's identity, its record
(``method_facts.settings`` and the settings declared with a ``column``) and every table read
those values, never the config's copy.

Full-reference methods (the FR contract): a method whose class says ``inputs = "pairs"``
(subclass :class:`~bench.engine.pair_method.PairMethod`) is full-reference. The runner then

* builds its network with the class's ``build_model(cfg, log)`` (default: the config's
  IQANet; an FR method's network takes ``(reference, distorted)``);
* gives it as ``ctx.train`` a :class:`PairTrainSet`: the fold's training pairs, labelled
  and unlabelled together (in dataset, then record order, so the set does not depend on
  which pairs keep labels), with ``pairs`` the :class:`~bench.data.pairs.PairBank` the
  crops come from and ``mos`` NaN for every pair the protocol passed unlabelled (their
  scores never leave the protocol: not in ``mos``, nor in the records ``ref_images`` holds);
* predicts every test pair with ``predict_pairs(pairs, index, batch_size)`` (float64 N,
  higher = better; index: global indices of the distorted images in ``pairs``).

A protocol passes unlabelled training pairs in its ``Fit`` stage (``Fit(labelled,
unlabelled)``, bench/engine/stages.py) and says it is full-reference with ``inputs =
"pairs"``; an FR method also runs under any protocol whose stages take pairs (e.g. held-out
distortion types). An NR method under an FR protocol, an FR method under a stage that
trains a no-reference network (``Pretrain``, ``FineTune``), and an FR method on a dataset
without references are usage errors (bench.engine.session).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence, Union

from ..core.settings import Setting, defaults
from .loop import FitContext, train


class Method:
    """Base class of training paradigms.

    display: the name tables print (the paper's, e.g. 'CIS\\C').
    extra_train: datasets joined to the training data, by data kind
        ({'real': [...], 'synthetic': [...]}), e.g. MLIVE for the +M ablations.
    settings: the method's own hyperparameters (``self.hp`` holds their values).
    stateful: names of attributes set by ``setup`` whose ``state_dict`` a checkpoint keeps
        (optimizers, samplers); the inner scheduler is kept by the loop.
    """

    display: str = ""
    extra_train: dict = {"real": [], "synthetic": []}
    settings: Mapping[str, Setting] = {}
    fixed: Mapping[str, object] = {}
    stateful: Sequence[str] = ("optimizer",)
    optimizer = None
    epoch_unit: str = "iterations"
    budget: dict = {}
    inputs: str = "images"   # 'pairs': a full-reference method (see the module docstring)
    trains_network: bool = True   # False: predict_images scores, no model.pt, no transfer

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.hp = self.effective_settings(cfg)

    @classmethod
    def effective_settings(cls, cfg: dict) -> dict:
        """The values of the method's declared settings a run of ``cfg`` uses: the profile's
        defaults, then the config's ``method_settings``, then the class's ``fixed`` values.
        A method whose effective values depend on more overrides this; the run identity and
        the record read it."""
        given = cfg.get("method_settings") or {}
        return {**defaults(cls.settings, str(cfg.get("profile", "quick"))),
                **{k: v for k, v in given.items() if k in cls.settings},
                **{k: v for k, v in cls.fixed.items() if k in cls.settings}}

    @classmethod
    def weights_files(cls, cfg: dict) -> dict:
        """{role: path} of the weights files a run of ``cfg`` loads besides its backbone's
        (e.g. a feature extractor), each entering the run's identity by digest; a
        UsageError naming the file when one it must load is missing (nothing by default).
        Called before any data is read."""
        return {}

    @classmethod
    def column_settings(cls, cfg: dict) -> dict:
        """{'values': {key: effective value}, 'columns': {key: column name in words}} of
        the settings declared with a ``column``: what a record puts at the top of its facts
        for readers to show."""
        hp = cls.effective_settings(cfg)
        cols = {k: s.column for k, s in cls.settings.items() if s.column}
        return {"values": {k: hp.get(k) for k in cols}, "columns": cols}

    @classmethod
    def build_model(cls, cfg: dict, log: Callable[[str], None] = print) -> tuple:
        """(network, init) the runner trains for this method: by default the config's
        ``model`` tree (backbone + regression head, :func:`bench.engine.models.build_model`); init
        says how the backbone started ('imagenet:<file>', 'file:<path>' or 'random'). A
        method with its own architecture overrides this; its network maps N x 3 x H x W
        images in [0, 1] to N scores."""
        from .models import build_model

        return build_model(cfg["model"], log)

    def setup(self, ctx: FitContext) -> None:  # pragma: no cover - interface
        """Build the optimizer(s) and samplers for ``ctx.train``."""
        raise NotImplementedError

    def iterations_per_epoch(self) -> int:  # pragma: no cover - interface
        """Iterations of a natural epoch (every training image about once)."""
        raise NotImplementedError

    def update(self, ctx: FitContext) -> Union[float, Sequence[float]]:  # pragma: no cover
        """One iteration; the loss of each inner step it took."""
        raise NotImplementedError

    def end_epoch(self, ctx: FitContext, epoch: int) -> None:
        """Called after every epoch's scheduler step (nothing by default)."""

    def end_training(self, ctx: FitContext) -> None:
        """Called once after the last epoch (nothing by default)."""

    def predict_images(self, bank, index, batch_size: int):  # pragma: no cover - interface
        """Scores (float64 N, higher = better) of bank images ``index``, for a method that
        trains no network (``trains_network = False``); the engine's model predicts for
        every other method."""
        raise NotImplementedError

    @classmethod
    def check_training(cls, cfg: dict, fold: str, records: list) -> None:
        """Called for every fold before any image is decoded, with the records the method
        will first train on ((dataset name, ``bench.data.records.Record``) pairs): a
        UsageError naming the setting when the method's settings cannot work on them
        (nothing by default)."""

    def schedule(self) -> dict:
        """{'epochs', 'lr_decay', 'lr_step_epochs', 'iterations_per_epoch'} of the fit: the
        config's train.* (iterations_per_epoch caps an epoch counted in iterations)."""
        t = self.cfg["train"]
        return {"epochs": int(t["epochs"]), "lr_decay": float(t["lr_decay"]),
                "lr_step_epochs": int(t["lr_step_epochs"]),
                "iterations_per_epoch": t.get("iterations_per_epoch")}

    def describe(self) -> dict:
        """How this method trained, for the run record's facts (JSON-able): its resolved
        settings and the epoch budget rule the loop used. Subclasses add their readings."""
        return {"settings": dict(self.hp), "budget": dict(self.budget)}

    def state(self) -> dict:
        """The objects a checkpoint keeps (``stateful`` attributes), by name."""
        return {name: getattr(self, name) for name in self.stateful}

    def fit(self, ctx: FitContext) -> list[float]:
        """Train ``ctx.engine.model`` through the engine's loop; the per-epoch losses."""
        return train(self, ctx)


def build_network(method_cls: type, cfg: dict, log: Callable[[str], None] = print) -> tuple:
    """(network, init) for a run of ``method_cls``: its ``build_model`` (the config's model
    tree unless the method has an architecture of its own)."""
    return method_cls.build_model(cfg, log)


__all__ = ["FitContext", "Method", "Setting", "build_network"]
