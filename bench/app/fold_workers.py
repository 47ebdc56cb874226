"""Extra worker processes for one `run`: ``--jobs N`` starts N - 1 processes running the
same :class:`~bench.app.spec.RunSpec` (its `run` command line with ``--jobs 1 --quiet``)
beside the calling process, and all of them walk the same fold list. A fold goes to whichever process claims its run folder first (the
folder's non-blocking lock, :meth:`bench.core.record.RunFolder.claim`); the others skip it, so
the folds are shared out dynamically with no scheduler and a fold is never run twice.

Each worker is an ordinary `run`, so its run folders are byte-for-byte those a single
process writes (same config, same hash, same seed per fold): ``--jobs`` changes the wall
time only. Workers get ``cores // jobs`` CPU threads unless OMP_NUM_THREADS is set, write
their output to ``<out>/.sweep-logs/`` (kept only when a worker fails), die with the
calling process (Linux), and are stopped with it on Ctrl-C.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..core.errors import UsageError

GRACE_S = 10.0


def parse_jobs(text: str) -> int | None:
    """--jobs: a positive integer, or 'auto' (None: decided by :func:`auto_jobs`)."""
    if str(text).strip().lower() == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--jobs must be a positive integer or 'auto', not '{text}'") from None
    if n < 1:
        raise UsageError(f"--jobs must be at least 1, not {n}")
    return n


def auto_jobs(cfg: dict, folds: int) -> int:
    """Processes for ``folds`` folds to do under ``cfg``: on the CPU with a fixed thread
    count (engine.threads >= 1, e.g. the quick and smoke profiles' 1), one per
    ``threads`` cores, at most one per fold; 1 on a GPU (one device, one process: the
    sweep's launcher spreads runs over several GPUs) or when torch picks the threads."""
    from .launchers.local import cpu_count

    threads = int(cfg.get("engine", {}).get("threads") or 0)
    if threads < 1 or folds < 2 or _uses_gpu(cfg):
        return 1
    return max(1, min(cpu_count() // threads, folds))


def _uses_gpu(cfg: dict) -> bool:
    device = str(cfg.get("device", "auto"))
    if device.startswith("cuda"):
        return True
    if device != "auto":
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no usable torch CUDA: the CPU
        return False


def worker_command(spec, python: str | None = None) -> list[str]:
    """The command line of a worker running ``spec`` (``out`` absolute) alone, quietly."""
    return [python or sys.executable, "-m", "bench", "run", *spec.argv(), "--jobs", "1",
            "--quiet"]


class FoldWorkers:
    """``n`` worker processes running ``spec`` (a RunSpec whose ``out`` is absolute); a
    context manager that stops any still running when the block is left by an exception."""

    def __init__(self, spec, n: int, out: Path, jobs: int):
        from .launchers import with_repo_on_path
        from .launchers.local import LOG_DIR, _die_with_parent, cpu_count

        self.logs = Path(out).resolve() / LOG_DIR
        self.logs.mkdir(parents=True, exist_ok=True)
        env = with_repo_on_path(os.environ)
        if "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(max(1, cpu_count() // jobs))
        env["TQDM_DISABLE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        for k in range(n):
            log_path = self.logs / f"run-worker-{os.getpid()}-{k + 2}.log"
            with open(log_path, "wb") as fh:
                # same process group: a terminal's Ctrl-C reaches the workers too
                proc = subprocess.Popen(worker_command(spec),
                                        stdin=subprocess.DEVNULL, stdout=fh,
                                        stderr=subprocess.STDOUT, env=env,
                                        preexec_fn=_die_with_parent(os.getpid()))  # noqa: PLW1509
            self.procs.append((proc, log_path))

    def __enter__(self) -> FoldWorkers:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.stop()

    def wait(self, log) -> list[str]:
        """Wait for every worker; returns one failure line (exit status and the end of
        its log, which is kept) per worker that failed; the logs of the others are removed."""
        from .launchers import tail

        failures = []
        if any(p.poll() is None for p, _ in self.procs):
            log(f"waiting for {sum(p.poll() is None for p, _ in self.procs)} other worker(s) "
                "to finish their folds ...")
        for k, (proc, log_path) in enumerate(self.procs, 2):
            rc = proc.wait()
            if rc == 0:
                log_path.unlink(missing_ok=True)
                continue
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            failures.append(f"worker {k} failed (exit status {rc}; log {log_path}):\n"
                            f"{tail(text)}")
        with contextlib.suppress(OSError):
            self.logs.rmdir()  # only when empty
        return failures

    def stop(self) -> None:
        """SIGINT every live worker (it stops its fold, leaving no half-written folder),
        then SIGKILL what is left after GRACE_S."""
        live = [p for p, _ in self.procs if p.poll() is None]
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        for p in live:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for _, log_path in self.procs:
            log_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.logs.rmdir()
