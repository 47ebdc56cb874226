"""The ``submitit`` launcher: one job per unit, submitted as a job array through
``submitit.AutoExecutor`` to Slurm (``--submitit-cluster slurm``, the default), to
submitit's local executor (``local``: each job a process on this machine, what the tests
use) or run in this process (``debug``).

A job executes the unit's run spec in the job's process (:func:`run_unit`);
the launcher waits for the jobs, reports each, and on Ctrl-C cancels those not finished
(their run folders stay unfinished and are redone by the next sweep). Job logs and
pickles go to ``--submitit-folder`` (default ``<runs>/.submitit``).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import time
import traceback
from pathlib import Path

from ...core.errors import BenchError, UsageError, require_extra
from . import (
    LAUNCHERS,
    Launcher,
    LaunchReport,
    UnitResult,
    report,
    tail,
    with_repo_on_path,
)

CLUSTERS = ("slurm", "local", "debug")


def run_unit(spec, folder: str, threads: int | None = None) -> dict:
    """Body of one job: the unit's RunSpec executed in this process, as ``python -m bench
    run`` would. Returns ``{'rc': exit status, 'done': folder finished, 'error': the error
    or traceback, or ''}`` and never raises (submitit's debug executor would start a
    debugger)."""
    if threads and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    from ...core.record import RunFolder
    from ..api import execute
    from ..sweep import clean_stale

    rc, error = 0, ""
    try:
        clean_stale(Path(folder))
        outcome = execute(spec, jobs=1)
        rc = 1 if outcome.failures else 0
    except BenchError as exc:
        rc, error = exc.exit_code, f"bench: error: {exc}"
    except KeyboardInterrupt:
        rc = 130
    except Exception:  # noqa: BLE001 - reported to the launcher, not raised
        rc, error = 1, traceback.format_exc()
    return {"rc": rc, "done": RunFolder(Path(folder)).is_finished(), "error": error}


@contextlib.contextmanager
def _repo_on_pythonpath():
    """Jobs inherit this process's environment: let them import bench from anywhere."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = with_repo_on_path(os.environ)["PYTHONPATH"]
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@LAUNCHERS.register("submitit", "slurm")
class SubmititLauncher(Launcher):
    """Slurm (or submitit's local/debug executors) through submitit.AutoExecutor."""

    name = "submitit"

    @classmethod
    def add_arguments(cls, group) -> None:
        group.add_argument("--submitit-cluster", choices=CLUSTERS, default="slurm",
                           help="submitit: slurm (default), local (processes on this "
                                "machine, for tests) or debug (in this process)")
        group.add_argument("--partition", help="submitit: Slurm partition")
        group.add_argument("--time", type=int, default=240, metavar="MINUTES",
                           help="submitit: time limit of each job in minutes (default 240)")
        group.add_argument("--gpus-per-job", type=int, metavar="N",
                           help="submitit: GPUs of each job (default 1 on Slurm, 0 otherwise)")
        group.add_argument("--cpus-per-job", type=int, metavar="N",
                           help="submitit: CPU cores of each job (default: the cluster's)")
        group.add_argument("--slurm-array-parallelism", type=int, default=256, metavar="N",
                           help="submitit: jobs of the array running at once (default 256)")
        group.add_argument("--submitit-folder", metavar="DIR",
                           help="submitit: folder of job logs and pickles "
                                "(default <runs>/.submitit)")

    def __init__(self, args):
        super().__init__(args)
        self.cluster = getattr(args, "submitit_cluster", None) or "slurm"
        for opt in ("time", "gpus_per_job", "cpus_per_job", "slurm_array_parallelism"):
            value = getattr(args, opt, None)
            if value is not None and value < (0 if opt == "gpus_per_job" else 1):
                raise UsageError(f"--{opt.replace('_', '-')} must be positive, not {value}")
        if self.cluster == "slurm" and not shutil.which("sbatch"):
            raise UsageError("Slurm's sbatch is not on PATH; use --submitit-cluster local "
                             "(or --launcher local) to run on this machine")
        self.folder = Path(getattr(args, "submitit_folder", None)
                           or Path(args.runs) / ".submitit").resolve()

    def executor(self, n_jobs: int):
        """The configured submitit.AutoExecutor."""
        submitit = require_extra("submitit", "slurm", "the submitit launcher")
        a = self.args
        ex = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        gpus = a.gpus_per_job if a.gpus_per_job is not None else (1 if self.cluster == "slurm" else 0)
        params = {"name": "bench-sweep", "timeout_min": a.time, "gpus_per_node": gpus,
                  "slurm_array_parallelism": a.slurm_array_parallelism}
        if a.partition:
            params["slurm_partition"] = a.partition
        if a.cpus_per_job:
            params["cpus_per_task"] = a.cpus_per_job
        ex.update_parameters(**params)
        return ex

    def _threads(self, n_jobs: int) -> int | None:
        """Threads per job when the jobs share this machine (local executor)."""
        if self.cluster != "local":
            return None
        from .local import cpu_count

        return max(1, cpu_count() // max(1, min(n_jobs, self.args.slurm_array_parallelism)))

    def launch(self, units, log) -> LaunchReport:
        """Submit one job per unit, wait for them, report each."""
        ex = self.executor(len(units))
        threads = self._threads(len(units))
        with _repo_on_pythonpath():
            jobs = ex.map_array(run_unit, [u.spec for u in units],
                                [str(u.folder) for u in units], [threads] * len(units))
        ids = ", ".join(j.job_id for j in jobs[:3]) + (" ..." if len(jobs) > 3 else "")
        log(f"submitted {len(jobs)} job(s) to submitit's {self.cluster} executor ({ids}); "
            f"logs in {self.folder}")
        results: list[UnitResult] = []
        waiting = dict(zip(jobs, units))
        t0 = time.monotonic()
        poll = {"debug": 0.0, "local": 0.2}.get(self.cluster, 15.0)
        try:
            while waiting:
                for job in list(waiting):
                    if self.cluster != "debug" and not job.done():
                        continue
                    unit = waiting.pop(job)
                    res = _job_result(job, unit, t0)
                    results.append(res)
                    report(res, len(results), len(units), log)
                    if res.status == "stopped" and self.cluster == "debug":
                        raise KeyboardInterrupt  # Ctrl-C reached the run in this process
                if waiting:
                    time.sleep(poll)
        except KeyboardInterrupt:
            log(f"cancelling {len(waiting)} unfinished job(s) ...")
            for job, unit in waiting.items():
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
                results.append(UnitResult(unit, "stopped"))
            return LaunchReport(results, 2)
        return LaunchReport(results, 0)


def _job_result(job, unit, t0: float) -> UnitResult:
    """The UnitResult of a finished job (``t0``: when the jobs were submitted)."""
    try:
        out = job.result()
    except Exception as exc:  # noqa: BLE001 - the job died (killed, timed out, cancelled)
        text = ""
        seconds = time.monotonic() - t0
        with contextlib.suppress(Exception):
            text = job.stderr() or ""
        return UnitResult(unit, "failed", seconds, f"job {job.job_id}: {type(exc).__name__}",
                          tail(text or str(exc)))
    seconds = time.monotonic() - t0
    if out["rc"] == 0 and out["done"]:
        return UnitResult(unit, "done", seconds, f"job {job.job_id}")
    if out["rc"] == 130:  # the job's run was interrupted (Ctrl-C)
        return UnitResult(unit, "stopped", seconds, f"job {job.job_id}: interrupted")
    if out["rc"] == 0:
        return UnitResult(unit, "busy", seconds, "another worker holds its run folder")
    text = out.get("error") or ""
    with contextlib.suppress(Exception):
        text = text or job.stderr() or ""
    return UnitResult(unit, "failed", seconds, f"job {job.job_id}: exit status {out['rc']}",
                      tail(text))
