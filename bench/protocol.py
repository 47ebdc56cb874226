"""The protocol interface: which data trains and which tests, fold by fold.

A protocol is a class registered in ``bench.registry.PROTOCOLS``. Its ``defaults(real)``
gives the options it understands (they live in the config under ``protocol``), its
``datasets(opts)`` the datasets it needs, and ``folds(opts, datasets)`` the folds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .data.records import Dataset


@dataclass
class Fold:
    """One unit of training and testing.

    name: the fold's label (a distortion type for LODO, 'all' for a single fold).
    train: (dataset name, record indices) pairs that train the model.
    tests: target label -> (dataset name, record indices) scored after training.
    pretrain: when set, the method trains on these parts first (a model artifact shared
        by every protocol and fold with the same training), and ``train`` then fine-tunes
        it with the config's ``finetune`` schedule (plain L1 regression).
    info: extra fields recorded in the run's metrics (e.g. split, train_ratio).
    """

    name: str
    train: list[tuple[str, list[int]]]
    tests: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    pretrain: list[tuple[str, list[int]]] | None = None
    info: dict = field(default_factory=dict)


class Protocol:
    """Base class. ``version`` is recorded in every run so tables never mix versions."""

    version: int = 1
    layout: str = "folds"  # how `run` prints results: 'folds' (one row per fold) or 'targets'

    @classmethod
    def defaults(cls, real_data: bool) -> dict:
        """Protocol options and their defaults (real_data: a --data-root was given)."""
        return {}

    def datasets(self, opts: dict) -> list[str]:
        """Names of the datasets the protocol reads."""
        raise NotImplementedError

    def folds(self, opts: dict, datasets: dict[str, Dataset], seed: int = 0) -> list[Fold]:
        """The folds, in a fixed order (``seed``: the run's seed, for seeded splits)."""
        raise NotImplementedError
