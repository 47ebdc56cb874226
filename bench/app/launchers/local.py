"""The ``local`` launcher: units run as child processes ``python -m bench run ...
--folds F --quiet``, up to ``--jobs`` at a time.

* With several GPUs (``torch.cuda.device_count() > 1``) each slot gets one GPU through
  CUDA_VISIBLE_DEVICES and ``--jobs`` defaults to the number of GPUs; otherwise 1.
* Children share the CPU: unless OMP_NUM_THREADS is set, each gets cores // jobs threads.
* A child's output goes to ``<out>/.sweep-logs/``; a failed unit is reported with the end
  of its log (the log is kept until the unit succeeds), the others go on, and the launch
  reports the failure.
* Ctrl-C (SIGINT) or SIGTERM: the children get SIGINT (the run stops at once, leaving its
  folder unfinished and without temporary files), then SIGKILL after a grace period or on
  a second signal. Children run in their own sessions, so a terminal's Ctrl-C reaches the
  launcher only, and they die with it if the launcher itself is killed (Linux).
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ...core.errors import UsageError
from . import (
    LAUNCHERS,
    Launcher,
    LaunchReport,
    UnitResult,
    report,
    tail,
    with_repo_on_path,
)

#: Seconds a stopped child has to exit after SIGINT before it gets SIGKILL.
GRACE_S = 10.0
POLL_S = 0.05
#: Folder of the children's logs, beside the run folders; only failures' logs stay.
LOG_DIR = ".sweep-logs"
_PR_SET_PDEATHSIG = 1


def visible_gpus() -> list[str]:
    """The GPU ids a child may be given (from CUDA_VISIBLE_DEVICES when set), when this
    machine has more than one GPU; an empty list otherwise."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip() in ("", "-1"):
        return []
    try:
        import torch

        count = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA: run on the CPU
        return []
    if count <= 1:
        return []
    ids = [x.strip() for x in env.split(",")] if env else [str(i) for i in range(count)]
    return ids[:count]


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _die_with_parent(parent: int):
    """preexec_fn: the child gets SIGTERM when the launcher dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the launcher died before prctl
            os._exit(1)

    return preexec if sys.platform.startswith("linux") else None


@LAUNCHERS.register("local")
class LocalLauncher(Launcher):
    """Child processes on this machine, ``--jobs`` at a time (one per GPU with several)."""

    name = "local"

    @classmethod
    def add_arguments(cls, group) -> None:
        group.add_argument("--jobs", type=int, metavar="N",
                           help="local: units run at once (default: one per GPU when there "
                                "are several GPUs, else 1)")

    def __init__(self, args):
        super().__init__(args)
        self.jobs = getattr(args, "jobs", None)
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, not {self.jobs}")
        self._signal = 0
        self._repeat = 0

    # -- signals ---------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        self._signal = self._signal or signum
        self._repeat += 1

    def _install_handlers(self) -> dict:
        old = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread: leave signals alone
            pass
        return old

    # -- children --------------------------------------------------------------------

    def _child_env(self, jobs: int, gpu) -> dict:
        env = with_repo_on_path(os.environ)
        if "OMP_NUM_THREADS" not in os.environ:
            threads = str(max(1, cpu_count() // jobs))
            env["OMP_NUM_THREADS"] = threads
            env["MKL_NUM_THREADS"] = threads
        env.setdefault("TQDM_DISABLE", "1")
        env["PYTHONUNBUFFERED"] = "1"
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        return env

    def _start(self, unit, log_path: Path, env: dict) -> subprocess.Popen:
        with open(log_path, "wb") as fh:
            return subprocess.Popen(unit.command(), stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                    preexec_fn=_die_with_parent(os.getpid()))  # noqa: PLW1509 - only prctl

    def _stop(self, running: dict, log) -> None:
        """SIGINT every child, then SIGKILL what is left after GRACE_S or a new signal."""
        for proc, *_ in running.values():
            _signal(proc, signal.SIGINT)
        if running:
            log(f"stopping {len(running)} running unit(s) ...")
        repeat = self._repeat
        deadline = time.monotonic() + GRACE_S
        while any(p.poll() is None for p, *_ in running.values()):
            if time.monotonic() > deadline or self._repeat > repeat:
                for proc, *_ in running.values():
                    _signal(proc, signal.SIGKILL)
                break
            time.sleep(POLL_S)
        for proc, *_ in running.values():
            proc.wait()

    # -- the loop --------------------------------------------------------------------

    def launch(self, units, log) -> LaunchReport:
        """Run ``units`` in child processes; see the module docstring."""
        from ...core.record import RunFolder
        from ..sweep import clean_stale

        gpus = visible_gpus()
        jobs = self.jobs or max(1, len(gpus))  # visible_gpus lists none or several
        pending = collections.deque(units)
        free = list(range(jobs))
        running: dict = {}  # slot -> (proc, unit, log path, start time)
        results: list[UnitResult] = []
        logdirs: set[Path] = set()
        kept: list[Path] = []
        total, started = len(units), 0
        where = f" on GPUs {','.join(gpus)}" if gpus else ""
        log(f"running {total} unit(s), {jobs} at a time{where}")
        old = self._install_handlers()
        try:
            while (pending or running) and not self._signal:
                while pending and free and not self._signal:
                    unit = pending.popleft()
                    if RunFolder(unit.folder).is_finished():  # finished by another worker since planning
                        results.append(UnitResult(unit, "skipped", 0.0, "done already"))
                        report(results[-1], len(results), total, log)
                        continue
                    clean_stale(unit.folder)
                    slot = free.pop(0)
                    gpu = gpus[slot % len(gpus)] if gpus else None
                    started += 1
                    log_path = log_file(unit)
                    logdirs.add(log_path.parent)
                    proc = self._start(unit, log_path, self._child_env(jobs, gpu))
                    running[slot] = (proc, unit, log_path, time.monotonic())
                self._reap(running, free, results, kept, total, log)
                time.sleep(POLL_S)
            if self._signal:
                self._stop(running, log)
                for proc, unit, log_path, t0 in running.values():
                    state = "done" if RunFolder(unit.folder).is_finished() else "stopped"
                    results.append(UnitResult(unit, state, time.monotonic() - t0))
                    drop_logs(unit)  # stopped on purpose: not a failure
        except BaseException:
            self._stop(running, log)  # never leave children behind
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            for folder in logdirs:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty: no failure kept
            if kept:
                log(f"logs of the failed units are kept in {kept[0].parent}")
        return LaunchReport(results, self._signal)


    @staticmethod
    def _reap(running: dict, free: list, results: list, kept: list, total: int, log) -> None:
        """Collect every child that exited: free its slot, record and report its result,
        keep its log when it failed (drop it otherwise)."""
        from ...core.record import RunFolder

        for slot, (proc, unit, log_path, t0) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            del running[slot]
            free.append(slot)
            finished = RunFolder(unit.folder).is_finished()
            res = _result(unit, rc, log_path, time.monotonic() - t0, finished)
            results.append(res)
            if res.status == "failed":
                kept.append(log_path)
            else:
                drop_logs(unit)
            report(res, len(results), total, log)


def log_file(unit) -> Path:
    """Where a unit's child writes its output: ``<out>/.sweep-logs/<run folder>.<pid>.log``
    (beside the run folders, so a failure's log is found with them; the launcher's pid
    keeps two sweeps apart)."""
    folder = Path(unit.folder).parent / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{unit.name}.{os.getpid()}.log"


def drop_logs(unit) -> None:
    """Remove a unit's logs (once it is done or stopped, its failures are history)."""
    for path in (Path(unit.folder).parent / LOG_DIR).glob(f"{unit.name}.*.log"):
        path.unlink(missing_ok=True)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to a live child's process group (its own session: the child and any
    process it started)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return str(num)


def _result(unit, rc: int, log_path: Path, seconds: float, done: bool) -> UnitResult:
    if rc == 0 and done:
        return UnitResult(unit, "done", seconds)
    if rc == 0:
        return UnitResult(unit, "busy", seconds, "another worker holds its run folder")
    why = f"exit status {rc}" if rc > 0 else f"killed by signal {_signal_name(-rc)}"
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return UnitResult(unit, "failed", seconds, f"{why}; log {log_path}", tail(text))
