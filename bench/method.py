"""The method interface. A method is a class registered by name in ``bench.registry.METHODS``
(``@METHODS.register("erm")``) with a ``fit(ctx)`` that trains ``ctx.engine.model`` on
``ctx.train``. Class attributes describe it to the engine and the reporter."""
from __future__ import annotations

from .train import FitContext


class Method:
    """Base class of training paradigms.

    display: the name tables print (the paper's, e.g. 'CIS\\C').
    extra_train: datasets joined to the training data, by data kind
        ({'real': [...], 'synthetic': [...]}), e.g. MLIVE for the +M ablations.
    """

    display: str = ""
    extra_train: dict = {"real": [], "synthetic": []}

    def __init__(self, cfg: dict):
        self.cfg = cfg

    def fit(self, ctx: FitContext) -> None:  # pragma: no cover - interface
        """Train ``ctx.engine.model`` on ``ctx.train``; call ``ctx.epoch_done`` per epoch."""
        raise NotImplementedError
