"""The protocol interface: which data trains and which tests, fold by fold.

A protocol is a class registered in ``bench.core.registry.PROTOCOLS``. Its ``settings``
declare the options it understands (:class:`~bench.core.settings.Setting` objects with their
``--flag``, a default, and another default for real data where that differs; they live in
the config under ``protocol`` and are checked before any data is read), its
``datasets(opts)`` says the datasets it needs, and ``folds(opts, datasets)`` the folds,
each listing its stages (bench/engine/stages.py).

A protocol also owns the meaning of its results: its ``key_columns`` (what one measured
unit is: a fold, a split), its ``statistic`` over units and ``headline`` metric, and
:meth:`Protocol.summarise`, the one aggregation every consumer uses (see
:mod:`bench.core.summary`: sample std, ddof=1, n shown). No module outside ``protocols/``
needs to know a protocol by name.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import UsageError
from ..core.settings import Setting
from ..core.summary import Summary, summarise_records

if TYPE_CHECKING:
    from ..data.records import Dataset


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

    Class attributes: ``settings`` (its options), ``inputs`` ('pairs': full-reference,
    its folds train full-reference methods only), ``layout`` (how `run` prints:
    'folds', one row per fold, or 'targets', targets as column groups), ``key_columns``
    (record fields naming one measured unit; empty: every run is one unit per seed),
    ``unit`` (that unit's name), ``statistic`` ('mean' or 'median' over units),
    ``headline`` (the metric ranked on), ``order`` (position in listings), ``disjoint``
    (pairs of dataset options that may not share a dataset: a target that is also a
    training set would be tested on the images it trained on).
    """

    version: int = 1
    settings: Mapping[str, Setting] = {}
    inputs: str = "images"
    layout: str = "folds"
    key_columns: tuple[str, ...] = ("fold",)
    unit: str = "fold"
    statistic: str = "mean"
    headline: str = "srocc"
    order: int = 100
    disjoint: tuple[tuple[str, str], ...] = ()

    @classmethod
    def check_options(cls, tree: Mapping) -> None:
        """UsageError (one line) when two options of a ``disjoint`` pair name the same
        dataset, naming both options and the dataset: the run would test on data it trained
        on and show it as a result on unseen data."""
        for a, b in cls.disjoint:
            first, second = _names(tree.get(a)), _names(tree.get(b))
            shared = [n for n in first if n in second]
            if shared:
                flag = lambda k: f"--{cls.settings[k].flag}" if k in cls.settings and \
                    cls.settings[k].flag else f"protocol.{k}"   # noqa: E731
                raise UsageError(
                    f"{flag(a)} {','.join(first)} and {flag(b)} {','.join(second)} share "
                    f"{', '.join(shared)}: protocol '{tree.get('name', cls.__name__)}' would test "
                    "on the data it trained on; a target must not be a training set")

    @classmethod
    def defaults(cls, real_data: bool) -> dict:
        """Protocol options and their defaults (real_data: a --data-root was given)."""
        return {key: s.default_for("", real_data) for key, s in cls.settings.items()}

    @classmethod
    def resolve_options(cls, name: str, options: Mapping, real_data: bool) -> dict:
        """The config's ``protocol`` tree: its name, the defaults, then ``options`` (by
        key; command-line text is parsed), each checked against its Setting; UsageError
        naming the option otherwise."""
        tree = {"name": name, **cls.defaults(real_data)}
        for key, value in options.items():
            if key not in cls.settings:
                mine = ", ".join(f"--{s.flag}" for s in cls.settings.values()) or "none"
                raise UsageError(f"--{key.replace('_', '-')} does not apply to protocol "
                                 f"'{name}' (its options: {mine})")
            tree[key] = cls.settings[key].coerce(f"protocol.{key}", value)
        return tree

    @classmethod
    def dataset_names(cls, tree: Mapping) -> list[str]:
        """The dataset names a protocol tree's options give (the settings whose values
        name datasets)."""
        out = []
        for key, s in cls.settings.items():
            value = tree.get(key)
            if s.names == "dataset" and value:
                out += list(value) if isinstance(value, list) else [value]
        return out

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


def _names(value) -> list[str]:
    """A dataset option's names (a list, one name, or none)."""
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def protocol_flags(protocols: Sequence[tuple[str, type]]) -> dict[str, tuple[str, Setting, list[str]]]:
    """Every protocol option by flag: (its key, the Setting of the first protocol declaring
    it, the protocols declaring it, in order); one flag may serve several protocols (e.g.
    --targets for cross and finetune)."""
    out: dict[str, tuple[str, Setting, list[str]]] = {}
    for name, cls in protocols:
        for key, s in cls.settings.items():
            if s.flag:
                out.setdefault(s.flag, (key, s, []))[2].append(name)
    return out
