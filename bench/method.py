"""The method interface. A method is a class registered by name in ``bench.registry.METHODS``
(``@METHODS.register("erm")``) that implements small hooks; the engine's loop
(:func:`bench.loop.train`) owns the epochs, the inner schedule, checkpoints, NaN checks and
progress around them (DomainBed's ``update`` contract):

* ``setup(ctx)``: build what the method needs (optimizer, samplers, subsets); set
  ``self.optimizer`` to the inner optimizer the engine's step schedule drives (or None);
* ``iterations_per_epoch()``: iterations in a natural epoch (the loop caps it with
  train.iterations_per_epoch);
* ``update(ctx)``: one iteration on the batches the method asks for; its loss(es);
* ``end_epoch(ctx, epoch)``: optional.

A method declares its own hyperparameters in ``settings`` (name -> :class:`Setting`, with a
default per profile where they differ); the resolved config holds them under
``cfg["method_settings"]`` (``self.hp``), ``--set method.<name>=V`` sets one.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

from .loop import FitContext, train
from .settings import Setting, defaults


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
    stateful: Sequence[str] = ("optimizer",)
    optimizer = None

    def __init__(self, cfg: dict):
        self.cfg = cfg
        given = cfg.get("method_settings") or {}
        self.hp = {**defaults(self.settings, str(cfg.get("profile", "quick"))),
                   **{k: v for k, v in given.items() if k in self.settings}}

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

    def state(self) -> dict:
        """The objects a checkpoint keeps (``stateful`` attributes), by name."""
        return {name: getattr(self, name) for name in self.stateful}

    def fit(self, ctx: FitContext) -> list[float]:
        """Train ``ctx.engine.model`` through the engine's loop; the per-epoch losses."""
        return train(self, ctx)


def settings_of(method_cls: type) -> Mapping[str, Setting]:
    """A method class's declared settings (empty for a class without any)."""
    return dict(getattr(method_cls, "settings", {}) or {})


__all__ = ["FitContext", "Method", "Setting", "settings_of"]
