"""Sweeps: `run` options that take comma-separated lists, expanded into the cartesian
product of run configs, then into units of work, one per (run config, fold).

Every run config comes from a `python -m bench run` command line, parsed by `run`'s own
parser and resolved by :func:`bench.commands.options.resolve_run_config`, so a unit's run
folder (its hash) is the one `run` with the same options writes. A unit is executed as that
command line plus ``--folds <fold> --quiet`` (see :mod:`bench.app.launchers`); the run folder's
done marker, atomic writes and ``claim()`` lock make a unit safe to start again after any
interruption and safe against a second worker.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import UsageError

#: `run` options a sweep accepts as comma-separated lists (argparse dest -> option); the
#: registered protocols' single-valued options are added by :func:`swept`.
SWEPT_RUN_OPTIONS = {
    "protocol": "--protocol", "method": "--method", "profile": "--profile",
    "backbone": "--backbone", "seed": "--seed", "clusters": "--clusters",
}


def swept() -> dict[str, str]:
    """Every sweepable option (argparse dest -> flag): the run options above and each
    protocol option that takes one value (list-valued ones are comma-separated already)."""
    from ..commands.options import protocol_options

    out = dict(SWEPT_RUN_OPTIONS)
    for flag, (opt, _) in protocol_options().items():
        if opt.kind != "list":
            out[opt.dest] = f"--{flag}"
    return out


def protocol_option_keys() -> dict[str, str]:
    """argparse dest -> protocol config key, for every registered protocol option."""
    from ..commands.options import protocol_options

    return {opt.dest: opt.key for opt, _ in protocol_options().values()}
#: `run` options the sweep handles itself rather than passing through.
_OWN = {"help", "folds", "out", "quiet", "jobs", "print_config"}


@dataclass(frozen=True)
class Unit:
    """One unit of work: one fold of one run config.

    argv: arguments of ``python -m bench run`` that run exactly this unit.
    folder: its run folder; fold: the fold's name; done: finished when planned.
    config: the run config (resolved, before the fold is added), for display.
    """

    argv: tuple[str, ...]
    folder: Path
    fold: str
    done: bool = False
    config: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        """The run folder's name (protocol-method-dataset-fold-hash)."""
        return self.folder.name

    def command(self, python: str | None = None) -> list[str]:
        """The child command line that executes this unit."""
        return [python or sys.executable, "-m", "bench", "run", *self.argv]


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose errors raise UsageError (planning must not exit the process)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def run_parser() -> argparse.ArgumentParser:
    """The parser of `python -m bench run` (its own add_arguments), raising UsageError."""
    from ..commands import run as run_command

    p = _RaisingParser(prog="python -m bench run", add_help=False)
    run_command.add_arguments(p)
    return p


def make_sweepable(parser: argparse.ArgumentParser) -> None:
    """Turn the SWEPT options of a parser holding `run`'s options into comma-separated
    lists (kept as strings; each item is checked by `run`'s parser at expansion)."""
    sweepable = swept()
    for action in parser._actions:  # argparse keeps no public list of actions
        if action.dest in sweepable:
            action.type = None
            action.metavar = "LIST"
            action.help = f"{action.help}; a comma-separated list sweeps it"


def split_list(text) -> list[str]:
    """'a, b,,a' -> ['a', 'b'] (order kept, duplicates and blanks dropped)."""
    items = [x.strip() for x in str(text).split(",")]
    return list(dict.fromkeys(x for x in items if x))


def _fixed_args(action: argparse.Action, value) -> list[str]:
    """Command-line tokens giving ``action`` the value ``value`` (none for its default)."""
    opt = action.option_strings[-1]
    if isinstance(action, argparse._AppendAction):  # --set KEY=VALUE, repeated
        return [tok for item in value or [] for tok in (opt, str(item))]
    if action.nargs == 0:  # store_true / store_false
        return [opt] if value != action.default else []
    if value is None:
        return []
    return [opt, str(value)]


def expand(args: argparse.Namespace) -> list[list[str]]:
    """The `run` command lines of a sweep: the cartesian product of the SWEPT options'
    lists (in option order), each with the sweep's other options and ``--out``.

    A protocol option (--dataset, --train-ratio, ...) is left out of the runs of a
    protocol that does not take it when another protocol of the sweep does; duplicate
    command lines are dropped.
    """
    from ..core.registry import PROTOCOLS

    SWEPT, keys = swept(), protocol_option_keys()
    fixed: list[tuple[str, list[str]]] = []  # (dest, tokens) of the options not swept
    axes: list[list[tuple[str, list[str]]]] = []  # per swept option: (dest, tokens) per item
    for action in run_parser()._actions:
        if not action.option_strings or action.dest in _OWN:
            continue
        value = getattr(args, action.dest, None)
        if action.dest in SWEPT and value is not None:
            items = split_list(value)
            if not items:
                raise UsageError(f"{SWEPT[action.dest]} was given an empty list")
            axes.append([(action.dest, [SWEPT[action.dest], item]) for item in items])
        else:
            tokens = _fixed_args(action, value)
            if tokens:
                fixed.append((action.dest, tokens))
    fixed.append(("out", ["--out", str(Path(args.out).resolve())]))

    names = split_list(getattr(args, "protocol", None) or "lodo")
    real = bool(getattr(args, "data_root", None))
    accepts = {name: set(PROTOCOLS.get(name).defaults(real)) for name in names}
    from ..core.config import method_table

    out: list[list[str]] = []
    for combo in itertools.product(*axes):
        protocol = next((tokens[1] for dest, tokens in combo if dest == "protocol"), names[0])
        method = next((tokens[1] for dest, tokens in list(combo) + fixed if dest == "method"), None)
        argv: list[str] = []
        for dest, tokens in list(combo) + fixed:
            if dest == "clusters" and method and "clusters" not in method_table(method):
                continue  # e.g. --clusters in the erm runs of an erm,cis sweep
            key = keys.get(dest)
            if (key is not None and key not in accepts[protocol]
                    and any(key in keys for keys in accepts.values())):
                continue  # e.g. --train-ratio in the lodo runs of a lodo,finetune sweep
            argv += tokens
        if argv not in out:
            out.append(argv)
    return out


def _plan_key(cfg: dict) -> str:
    """What :func:`bench.engine.session.load_plan` reads to list the folds: the protocol options,
    the data settings, the method's extra training sets (and the seed, in case a protocol
    seeds its folds). Runs with equal keys have equal folds, so they are listed once."""
    from ..core.registry import METHODS

    extra = METHODS.get(cfg["method"]).extra_train
    return json.dumps([cfg["protocol"], cfg["data"], cfg["seed"], extra], sort_keys=True,
                      default=str)


def plan(args: argparse.Namespace, log: Callable[[str], None] = print) -> list[Unit]:
    """Every unit of the sweep ``args``, in expansion order, each marked done or not.

    ``args.folds`` (comma-separated) keeps only the folds of those names; a name no run
    config has is a UsageError. Units with the same run folder are listed once.
    """
    from ..commands.options import resolve_run_config
    from ..core.record import RunFolder
    from ..engine.session import load_plan, run_folder

    parser = run_parser()
    wanted = split_list(args.folds) if getattr(args, "folds", None) else None
    folds_of: dict[str, list] = {}
    units: list[Unit] = []
    seen: set[Path] = set()
    for argv in expand(args):
        cfg = resolve_run_config(parser.parse_args(argv))
        key = _plan_key(cfg)
        if key not in folds_of:
            folds_of[key] = load_plan(cfg, log).folds
        for fold in folds_of[key]:
            if wanted is not None and fold.name not in wanted:
                continue
            folder = run_folder(cfg, fold, Path(args.out).resolve())
            if folder in seen:
                continue
            seen.add(folder)
            units.append(Unit(tuple(argv + ["--folds", fold.name, "--quiet"]), folder,
                              fold.name, RunFolder(folder).is_finished(), cfg))
    if wanted is not None:
        known = {f.name for folds in folds_of.values() for f in folds}
        missing = [w for w in wanted if w not in known]
        if missing:
            from ..core.errors import unknown_choice

            raise unknown_choice("fold", missing[0], known)
    return units


def count_line(units: Iterable[Unit], done: Iterable[bool] | None = None) -> str:
    """'12 runs, 4 done, 8 to do' (``done`` overrides the units' planned states)."""
    units = list(units)
    states = list(done) if done is not None else [u.done for u in units]
    n_done = sum(bool(s) for s in states)
    return f"{len(units)} runs, {n_done} done, {len(units) - n_done} to do"


def choices(unit: Unit) -> dict[str, str]:
    """The values a unit's command line gives the SWEPT options ('seed' -> '1', ...)."""
    argv, opts = unit.argv, {v: k for k, v in swept().items()}
    return {opts[a]: argv[i + 1] for i, a in enumerate(argv[:-1]) if a in opts}


def format_plan(units: list[Unit]) -> str:
    """The dry-run listing: one line per unit (state, the swept options that vary, fold,
    run folder), then the count line. A to-do unit whose folder exists is 'started'
    (running now, or interrupted: it will be redone)."""
    SWEPT = swept()
    picked = [choices(u) for u in units]
    varying = [k for k in SWEPT if len({c.get(k) for c in picked}) > 1]
    width = {k: max([len(SWEPT[k]) - 2] + [len(c.get(k, "-")) for c in picked]) + 2
             for k in varying}
    fold_w = max([4] + [len(u.fold) for u in units]) + 2
    head = "".join(f"{SWEPT[k][2:]:<{width[k]}}" for k in varying)
    lines = [f"{'state':<9}{head}{'fold':<{fold_w}}run folder"]
    for u, c in zip(units, picked):
        state = "done" if u.done else ("started" if u.folder.is_dir() else "to do")
        cells = "".join(f"{c.get(k, '-'):<{width[k]}}" for k in varying)
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
