"""The protocol interface: which data trains and which tests, fold by fold.

A protocol is a class registered in ``bench.core.registry.PROTOCOLS``. Its ``defaults(real)``
gives the options it understands (they live in the config under ``protocol``), its
``options`` the command-line flags that set them, its ``datasets(opts)`` the datasets it
needs, and ``folds(opts, datasets)`` the folds.

A protocol also owns the meaning of its results: its ``key_columns`` (what one measured
unit is: a fold, a split), its ``statistic`` over units and ``headline`` metric, and
:meth:`Protocol.summarise`, the one aggregation every consumer uses (see
:mod:`bench.core.summary`: sample std, ddof=1, n shown). No module outside ``protocols/``
needs to know a protocol by name.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import UsageError
from ..core.summary import Summary, summarise_records

if TYPE_CHECKING:
    from ..data.records import Dataset


@dataclass(frozen=True)
class Option:
    """A command-line option of a protocol: ``--<flag>`` sets ``protocol.<key>``.

    kind: 'list' (comma-separated names), or a callable converting the text (str, int,
    float); help: the --help line.
    """

    flag: str
    key: str
    help: str
    kind: object = str

    @property
    def dest(self) -> str:
        """The argparse attribute name."""
        return self.flag.replace("-", "_")

    def convert(self, value):
        """The option's value as the config holds it (a list for 'list' options)."""
        if self.kind == "list":
            return ([x.strip() for x in value.split(",") if x.strip()]
                    if isinstance(value, str) else list(value))
        return self.kind(value) if callable(self.kind) else value


@dataclass
class Fold:
    """One unit of training and testing.

    name: the fold's label (a distortion type for LODO, 'all' for a single fold).
    stages: what trains the model it tests, in order (bench/engine/stages.py: ``Fit``,
        ``Pretrain``, ``FineTune``, or a protocol's own :class:`~bench.engine.stages.Stage`).
    tests: target label -> (dataset name, record indices) scored after training.
    info: extra fields recorded in the run's metrics (e.g. split, train_ratio).
    """

    name: str
    stages: list = field(default_factory=list)
    tests: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def unlabelled(self) -> list[tuple[str, list[int]]]:
        """The (dataset, indices) parts its stages train on WITHOUT their MOS (a
        full-reference fold's unlabelled pairs; bench/engine/pair_method.py)."""
        return [part for stage in self.stages for part in stage.unlabelled()]

    def method_parts(self) -> list[tuple[str, list[int]]]:
        """The labelled parts the run's method first trains on (those of the first stage
        that trains; none for a fold without one)."""
        return next((stage.parts() for stage in self.stages if stage.trains), [])

    def trained_on(self) -> list[str]:
        """The datasets the method learns from: those of :meth:`method_parts`, else those
        it gets without MOS (in order, each once)."""
        return list(dict.fromkeys(n for n, _ in (self.method_parts() or self.unlabelled)))

    def parts_by_label(self) -> dict[str, list]:
        """The stages' labelled parts grouped by their fingerprint label, in stage order."""
        out: dict[str, list] = {}
        for stage in self.stages:
            out.setdefault(stage.fingerprint_label(), []).extend(stage.parts())
        return out


class Protocol:
    """Base class. ``version`` is recorded in every run so tables never mix versions.

    Class attributes: ``options`` (its command-line flags), ``layout`` (how `run` prints:
    'folds', one row per fold, or 'targets', targets as column groups), ``key_columns``
    (record fields naming one measured unit; empty: every run is one unit per seed),
    ``unit`` (that unit's name), ``statistic`` ('mean' or 'median' over units),
    ``headline`` (the metric ranked on), ``order`` (position in listings).
    """

    version: int = 1
    options: tuple[Option, ...] = ()
    layout: str = "folds"
    key_columns: tuple[str, ...] = ("fold",)
    unit: str = "fold"
    statistic: str = "mean"
    headline: str = "srocc"
    order: int = 100

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

    @classmethod
    def summarise(cls, records: Sequence, folders: Sequence = ()) -> dict[str, Summary]:
        """Target -> :class:`bench.core.summary.Summary` of one setting's records (runs that
        differ only in seed, fold or split): each unit averaged over seeds, then the
        protocol's statistic over units, sample std (ddof=1) and n = units."""
        return summarise_records(records, cls.key_columns, cls.statistic, cls.unit, folders)

    @classmethod
    def describe(cls) -> str:
        """One line for listings: the docstring's first line."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def all_options(protocols: Sequence[type]) -> dict[str, tuple[Option, list[str]]]:
    """Every protocol option by flag, with the protocols declaring it (in order); one flag
    may serve several protocols (e.g. --targets for cross and finetune)."""
    out: dict[str, tuple[Option, list[str]]] = {}
    for name, cls in protocols:
        for opt in cls.options:
            out.setdefault(opt.flag, (opt, []))[1].append(name)
    return out


def boolean(value, key: str) -> bool:
    """true/false (a bool, or text true/false/1/0/yes/no) -> bool; UsageError naming
    protocol.<key> otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise UsageError(f"protocol.{key} must be true or false, not {value!r}")
