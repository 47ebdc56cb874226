"""Sweeps planned as data: a base :class:`~bench.app.spec.RunSpec` and :class:`Axis` values
expand into the cartesian product of run specs (:func:`expand`), and each spec into units of
work, one per fold (:func:`plan`), each with its run folder and whether it is done.

A unit's spec is the sweep's spec narrowed to one fold, so a unit's run folder (its hash) is
the one ``run`` writes for the same spec. The launchers execute units (a child process runs
the spec's `run` command line, a Slurm job runs the spec in its process); the run folder's
done marker, atomic writes and ``claim()`` lock make a unit safe to start again after any
interruption and safe against a second worker.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import UsageError, unknown_choice
from ..core.registry import METHODS, PROTOCOLS
from .spec import RunSpec, option_text, with_absolute_out

#: Fields of a spec an axis may sweep besides its options and settings.
SPEC_FIELDS = ("protocol", "method", "profile", "seed")


@dataclass(frozen=True)
class Axis:
    """One swept value of a spec: ``field`` is 'protocol', 'method', 'profile', 'seed',
    'option' (a protocol option, ``key`` its key) or 'setting' (a config key, ``key`` the
    dotted key); ``values`` in order; ``label`` names it in listings."""

    field: str
    values: tuple
    key: str = ""
    label: str = ""

    def __post_init__(self):
        if self.field not in (*SPEC_FIELDS, "option", "setting"):
            raise ValueError(f"unknown axis field '{self.field}'")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise UsageError(f"--{self.name} was given an empty list")

    @property
    def name(self) -> str:
        """The label, or the field (the key for options and settings)."""
        return self.label or self.key or self.field

    def apply(self, spec: RunSpec, value: Any) -> RunSpec:
        """``spec`` with this axis set to ``value``."""
        if self.field == "option":
            return spec.replace(options={**spec.options, self.key: value})
        if self.field == "setting":
            return spec.replace(settings={**spec.settings, self.key: value})
        return spec.replace(**{self.field: value})

    def value_of(self, spec: RunSpec) -> str | None:
        """This axis's value in ``spec`` as text (None when the spec leaves it out)."""
        if self.field == "option":
            value = spec.options.get(self.key)
        elif self.field == "setting":
            value = spec.settings.get(self.key)
        else:
            value = getattr(spec, self.field)
        return None if value is None else option_text(value)


@dataclass(frozen=True)
class Unit:
    """One unit of work: one fold of one run spec.

    spec: the run narrowed to this fold (``out`` absolute); folder: its run folder; fold:
    the fold's name; done: finished when planned; config: the resolved run config (before
    the fold is added), for display.
    """

    spec: RunSpec
    folder: Path
    fold: str
    done: bool = False
    config: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        """The run folder's name (protocol-method-dataset-fold-hash)."""
        return self.folder.name

    def command(self, python: str | None = None) -> list[str]:
        """The child command line that executes this unit, quietly, in one process."""
        import sys

        return [python or sys.executable, "-m", "bench", "run", *self.spec.argv(),
                "--jobs", "1", "--quiet"]


def expand(base: RunSpec, axes: Iterable[Axis]) -> list[RunSpec]:
    """The run specs of a sweep: ``base`` with every combination of the axes' values (the
    first axis varies slowest), duplicates dropped.

    A protocol option is left out of the specs of a protocol that does not take it when
    another protocol of the sweep does (``train_ratio`` in the lodo runs of a lodo,finetune
    sweep), and a method setting out of the specs of a method that does not declare it
    when another method of the sweep does (``method.clusters`` in the erm runs of an
    erm,cis sweep), or pins it (``fixed``: the cis-c runs of a cis,cis-c sweep); otherwise
    resolving the spec names the mistake.
    """
    axes = list(axes)
    protocols = _values("protocol", base, axes)
    methods = _values("method", base, axes)
    real = bool(base.settings.get("data.root"))
    accepts = {p: set(PROTOCOLS.get(p).defaults(real)) for p in protocols}
    declares = {m: set(getattr(METHODS.get(m), "settings", {}) or {})   # a pinned one is not
                - set(getattr(METHODS.get(m), "fixed", {}) or {}) for m in methods}  # swept
    out: dict[str, RunSpec] = {}
    for combo in itertools.product(*[[(axis, v) for v in axis.values] for axis in axes]):
        spec = base
        for axis, value in combo:
            spec = axis.apply(spec, value)
        spec = _fitted(spec, accepts, declares)
        out.setdefault(spec.key(), spec)
    return list(out.values())


def _values(field_name: str, base: RunSpec, axes: list[Axis]) -> list:
    for axis in axes:
        if axis.field == field_name:
            return list(axis.values)
    return [getattr(base, field_name)]


def _fitted(spec: RunSpec, accepts: dict, declares: dict) -> RunSpec:
    """``spec`` less the options its protocol does not take and the method settings its
    method does not declare, when another protocol (method) of the sweep does."""
    mine, anyone = accepts[spec.protocol], set().union(*accepts.values())
    options = {k: v for k, v in spec.options.items() if k in mine or k not in anyone}
    declared, any_method = declares[spec.method], set().union(*declares.values())
    settings = {k: v for k, v in spec.settings.items()
                if not k.startswith("method.") or k[7:] in declared or k[7:] not in any_method}
    return spec.replace(options=options, settings=settings)


def _plan_key(cfg: dict) -> str:
    """What :func:`bench.engine.session.load_plan` reads to list the folds: the protocol
    options, the data settings, the method's extra training sets (and the seed, in case a
    protocol seeds its folds). Runs with equal keys have equal folds, so they are listed
    once."""
    extra = METHODS.get(cfg["method"]).extra_train
    return json.dumps([cfg["protocol"], cfg["data"], cfg["seed"], extra], sort_keys=True,
                      default=str)


def plan(specs: Iterable[RunSpec], log: Callable[[str], None] = print) -> list[Unit]:
    """Every unit of the run specs, in order, each marked done or not. A spec's ``folds``
    keeps only the folds of those names; a name that no spec's protocol makes is a
    UsageError. Units with the same run folder are listed once."""
    from ..core.record import RunFolder
    from ..engine.session import load_plan, run_folder

    folds_of: dict[str, list] = {}
    units: list[Unit] = []
    seen: set[Path] = set()
    wanted_all: set[str] = set()
    for spec in specs:
        spec = with_absolute_out(spec)
        cfg = spec.config()
        key = _plan_key(cfg)
        if key not in folds_of:
            folds_of[key] = load_plan(cfg, log).folds
        wanted_all |= set(spec.folds or ())
        for fold in folds_of[key]:
            if spec.folds is not None and fold.name not in spec.folds:
                continue
            folder = run_folder(cfg, fold, Path(spec.out))
            if folder in seen:
                continue
            seen.add(folder)
            units.append(Unit(spec.replace(folds=(fold.name,)), folder, fold.name,
                              RunFolder(folder).is_finished(), cfg))
    known = {f.name for folds in folds_of.values() for f in folds}
    missing = sorted(wanted_all - known)
    if missing:
        raise unknown_choice("fold", missing[0], known)
    return units


def count_line(units: Iterable[Unit], done: Iterable[bool] | None = None) -> str:
    """'12 runs, 4 done, 8 to do' (``done`` overrides the units' planned states)."""
    units = list(units)
    states = list(done) if done is not None else [u.done for u in units]
    n_done = sum(bool(s) for s in states)
    return f"{len(units)} runs, {n_done} done, {len(units) - n_done} to do"


def format_plan(units: list[Unit], axes: Iterable[Axis] = ()) -> str:
    """The dry-run listing: one line per unit (state, the axes whose values vary, fold,
    run folder), then the count line. A to-do unit whose folder exists is 'started'
    (running now, or interrupted: it will be redone)."""
    axes = list(axes)
    picked = [{a.name: a.value_of(u.spec) or "-" for a in axes} for u in units]
    varying = [a.name for a in axes if len({c[a.name] for c in picked}) > 1]
    width = {k: max([len(k)] + [len(c[k]) for c in picked]) + 2 for k in varying}
    fold_w = max([4] + [len(u.fold) for u in units]) + 2
    head = "".join(f"{k:<{width[k]}}" for k in varying)
    lines = [f"{'state':<9}{head}{'fold':<{fold_w}}run folder"]
    for u, c in zip(units, picked):
        state = "done" if u.done else ("started" if u.folder.is_dir() else "to do")
        cells = "".join(f"{c[k]:<{width[k]}}" for k in varying)
        lines.append(f"{state:<9}{cells}{u.fold:<{fold_w}}{u.folder}")
    lines.append(count_line(units))
    return "\n".join(lines)


def clean_stale(folder: Path) -> bool:
    """Remove temporary files left in an unfinished run folder by a killed worker (an
    atomic write interrupted by SIGKILL). Done only while holding the folder's lock, so a
    live worker's files are never touched; returns False when another worker holds it."""
    from ..core.record import RunFolder

    folder = Path(folder)
    if not folder.is_dir() or RunFolder(folder).is_done():
        return True
    with RunFolder(folder).claim() as mine:
        if not mine:
            return False
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
    return True
