"""Launchers run the units of a sweep (:class:`bench.app.sweep.Unit`): ``local`` in child
processes on this machine, ``submitit`` as Slurm jobs through submitit.

A launcher is a class registered in :data:`LAUNCHERS` (``@LAUNCHERS.register("name")``);
modules of this package and entry points of the group ``bench.launchers`` are discovered
like methods and protocols. It declares its options with ``add_arguments(group)``, is
built from the parsed options, and ``launch(units, log)`` returns one
:class:`UnitResult` per unit it started. It only ever executes a unit's run spec (:class:`bench.app.spec.RunSpec`),
so nothing of a launcher reaches methods or protocols.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ...core.registry import Registry

LAUNCHERS: Registry = Registry("launcher", package="bench.app.launchers",
                               entry_point_group="bench.launchers")

#: Lines of a failed unit's output shown in the report.
TAIL_LINES = 15


@dataclass
class UnitResult:
    """What became of one unit: status is 'done', 'failed' (tail: the end of its output),
    'busy' (exited without finishing: another worker holds its folder), 'skipped' (found
    done when its turn came) or 'stopped' (interrupted by the sweep's stop)."""

    unit: object
    status: str
    seconds: float = 0.0
    detail: str = ""
    tail: str = ""


@dataclass
class LaunchReport:
    """The results of a launch; ``interrupted`` is the signal number that stopped it, or 0."""

    results: list
    interrupted: int = 0


class Launcher:
    """Base class of launchers."""

    name = ""

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        """Register the launcher's own options (shown under its name in --help)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    def launch(self, units: list, log: Callable[[str], None]) -> LaunchReport:
        """Execute ``units`` (none of them done when planned); never raises for a unit's
        failure, which is reported in its :class:`UnitResult`."""
        raise NotImplementedError


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a program's output, progress-bar redraws removed."""
    rows = [r.rsplit("\r", 1)[-1] for r in text.replace("\r\n", "\n").split("\n")]
    rows = [r for r in rows if r.strip()]
    return "\n".join(rows[-lines:])


def repo_root() -> str:
    """The folder holding the ``bench`` package (put on a child's PYTHONPATH so that
    ``python -m bench`` and the ``methods``/``protocols`` packages import anywhere)."""
    from pathlib import Path

    return str(Path(__file__).resolve().parents[3])


def with_repo_on_path(env: dict) -> dict:
    """A copy of ``env`` whose PYTHONPATH starts with :func:`repo_root`."""
    import os

    out = dict(env)
    parts = [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p]
    if repo_root() not in parts:
        out["PYTHONPATH"] = os.pathsep.join([repo_root(), *parts])
    return out


def report(res: UnitResult, k: int, total: int, log: Callable[[str], None]) -> None:
    """Log one finished unit: '[k/total] done NAME in 5.1 s', or FAILED with its tail."""
    if res.status == "failed":
        log(f"[{k}/{total}] FAILED {res.unit.name} ({res.detail}); the end of its output:\n"
            + "\n".join(f"    {line}" for line in res.tail.splitlines()))
    else:
        note = f" ({res.detail})" if res.detail else ""
        log(f"[{k}/{total}] {res.status} {res.unit.name} after {res.seconds:.1f} s{note}")
