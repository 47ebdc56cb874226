"""The Python API of the harness: :func:`run` executes a :class:`~bench.app.spec.RunSpec`
fold by fold, each fold in its run folder, and returns the records::

    from bench import RunSpec, run

    spec = RunSpec(protocol="lodo", method="erm", profile="smoke", folds=("GB",), out="runs")
    records = run(spec)          # [RunRecord]; records[0].targets["syn-kadid"]["srocc"]

A fold already done (a valid run folder) is read back, not trained again; ``jobs`` > 1
starts worker processes that share the folds (the run folders are the same as with one).
``python -m bench run`` is this function plus the printed table (:func:`execute` gives it
what it prints).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.errors import BenchError, unknown_choice
from .spec import RunSpec, with_absolute_out


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class RunOutcome:
    """What :func:`execute` did: ``records`` of the finished folds (in fold order), the
    folds ``busy`` in another worker's hands, one line per failed worker (``failures``),
    the session (protocol, datasets, folds) and the resolved config."""

    records: list
    busy: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    session: object = None
    cfg: dict = field(default_factory=dict)
    folds: list = field(default_factory=list)


def run(spec: RunSpec, jobs: int | None = 1, log: Callable[[str], None] | None = None) -> list:
    """Run ``spec`` and return the RunRecord of each of its folds, in fold order.
    ``jobs``: processes sharing the folds (None: as many as the CPU allows, see
    :func:`bench.app.fold_workers.auto_jobs`); ``log``: progress lines (default stderr).
    BenchError when a fold failed or is still being run by another worker."""
    outcome = execute(spec, jobs=jobs, log=log)
    if outcome.failures:
        raise BenchError("; ".join(line.splitlines()[0] for line in outcome.failures))
    if outcome.busy:
        raise BenchError(f"fold(s) {', '.join(outcome.busy)} are being run by another worker; "
                         "run the same spec again when they finish")
    return outcome.records


def execute(spec: RunSpec, jobs: int | None = 1, log: Callable[[str], None] | None = None,
            announce: bool = False, print_config: bool = False) -> RunOutcome:
    """Check the spec's config, the output folder and the cache; load the data; run every
    selected fold (shared with ``jobs`` - 1 worker processes); read back what the workers
    finished. ``announce``: log a summary of the run first; ``print_config``: log the
    resolved config."""
    from ..core.config import dumps
    from ..core.record import RunFolder
    from ..engine.fold import run_fold
    from ..engine.session import check_config, prepare, run_folder
    from .environment import cache_dir, estimate_run_bytes, free_space, writable_dir
    from .fold_workers import FoldWorkers, _uses_gpu, auto_jobs

    log = log or _stderr
    cfg = spec.config()
    out = Path(spec.out)
    check_config(cfg)              # bad values are usage errors before any folder is made
    writable_dir(out, "--runs")
    cache_dir()
    if print_config:
        log("resolved config:\n" + dumps(cfg))
    session = prepare(cfg, log)
    folds = select_folds(session.folds, spec.folds)
    folders = {f.name: RunFolder(run_folder(cfg, f, out)) for f in folds}
    todo = sum(not folders[f.name].is_finished() for f in folds)
    jobs = min(jobs or auto_jobs(cfg, todo), max(todo, 1))
    if jobs > 1 and _uses_gpu(cfg):
        from ..data.device_bank import bank_nbytes
        from .gpu_jobs import pack_on_gpu

        jobs = pack_on_gpu(cfg, jobs, bank_nbytes(session.bank), log)
    if announce:
        log(summary_line(cfg, folds, out)
            + (f"\n{jobs} processes share the {todo} fold(s) to do" if jobs > 1 else ""))
    free_space(out, estimate_run_bytes(cfg, len(folds)), "--runs")
    workers = None
    if jobs > 1:
        share_threads(cfg, jobs)
        workers = FoldWorkers(with_absolute_out(spec), jobs - 1, out, jobs)
    records, busy = {}, []
    with workers or contextlib.nullcontext():
        for k, fold in enumerate(folds, 1):
            result = run_fold(session, fold, out, log, position=f"[{k}/{len(folds)}]")
            if result is None:
                busy.append(fold.name)
            else:
                records[fold.name] = result[1]
        failures = workers.wait(log) if workers else []
    for name in list(busy):
        if folders[name].is_finished():
            records[name] = folders[name].read()
            busy.remove(name)
    done = [records[f.name] for f in folds if f.name in records]
    return RunOutcome(done, busy, failures, session, cfg, folds)


def select_folds(folds: list, wanted: tuple[str, ...] | None) -> list:
    """The folds named in ``wanted`` (all when None), in the protocol's order; a UsageError
    with a suggestion for a name the protocol does not make."""
    if wanted is None:
        return folds
    known = {f.name for f in folds}
    bad = [w for w in wanted if w not in known]
    if bad:
        raise unknown_choice("fold", bad[0], known)
    return [f for f in folds if f.name in wanted]


def summary_line(cfg: dict, folds: list, out: Path) -> str:
    """The few facts a newcomer needs before the run starts: what trains (the first fold's
    datasets) and, where they differ, what is tested."""
    trained = folds[0].trained_on() if folds else []
    tested = list(dict.fromkeys(n for f in folds for n, _ in f.tests.values()))
    data = "+".join(trained)
    targets = f" -> {'+'.join(tested)}" if tested and tested != trained else ""
    names = ", ".join(f.name for f in folds[:6]) + (", ..." if len(folds) > 6 else "")
    return (f"run: method {cfg['method']}, protocol {cfg['protocol']['name']} on {data}{targets}, profile "
            f"{cfg['profile']}, seed {cfg['seed']}, {len(folds)} fold(s) ({names})\n"
            f"run folders: {out.resolve()}  (full config: config.json there, or --print-config)")


def share_threads(cfg: dict, jobs: int) -> None:
    """With workers and no fixed thread count, this process takes its share of the cores
    (the workers get theirs through OMP_NUM_THREADS)."""
    if int(cfg.get("engine", {}).get("threads") or 0) < 1 and "OMP_NUM_THREADS" not in os.environ:
        import torch

        from .launchers.local import cpu_count

        torch.set_num_threads(max(1, cpu_count() // jobs))
