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
    """

    name: str
    train: list[tuple[str, list[int]]]
    tests: dict[str, tuple[str, list[int]]] = field(default_factory=dict)


class Protocol:
    """Base class. ``version`` is recorded in every run so tables never mix versions."""

    version: int = 1

    @classmethod
    def defaults(cls, real_data: bool) -> dict:
        """Protocol options and their defaults (real_data: a --data-root was given)."""
        return {}

    def datasets(self, opts: dict) -> list[str]:
        """Names of the datasets the protocol reads."""
        raise NotImplementedError

    def folds(self, opts: dict, datasets: dict[str, Dataset]) -> list[Fold]:
        """The folds, in a fixed order."""
        raise NotImplementedError
