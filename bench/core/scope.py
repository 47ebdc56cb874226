"""Process-wide state a run changes, restored after it: torch's intra-op threads, its
deterministic-algorithms flag (and warn-only mode), cuDNN's flags, the warnings filters,
``CUBLAS_WORKSPACE_CONFIG`` and the torch and Python random generators' states... only
what the run sets. Anything that calls the harness in-process (a notebook, a test,
submitit's debug executor) gets its own state back.

Reproducible CUDA (issue 20, docs/gpu.md): with determinism on, the scope sets
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when it is unset (cuBLAS needs it for reproducible
matrix products; a value already set is kept), cuDNN's deterministic flag on and its
benchmark off, and records every "does not have a deterministic implementation" warning
torch's warn-only mode raises; :func:`determinism_facts` tells the run record whether the
run was bitwise deterministic."""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

CUBLAS_KEY, CUBLAS_VALUE = "CUBLAS_WORKSPACE_CONFIG", ":4096:8"
_NONDETERMINISTIC_TEXT = "does not have a deterministic implementation"
# operations torch reported as nondeterministic inside the current (or last) scope
NONDETERMINISTIC: list[str] = []


@contextlib.contextmanager
def run_scope(threads: int = 0, deterministic: bool = False) -> Iterator[None]:
    """Within the block: ``threads`` torch threads when > 0, deterministic algorithms
    (warn-only, with cuBLAS's workspace setting and cuDNN's flags) when asked; any
    warnings filter added inside. All restored on exit."""
    import torch

    saved_threads = torch.get_num_threads()
    saved_det = torch.are_deterministic_algorithms_enabled()
    saved_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    saved_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    set_cublas = deterministic and CUBLAS_KEY not in os.environ
    with warnings.catch_warnings():
        try:
            if threads:
                torch.set_num_threads(int(threads))
            NONDETERMINISTIC.clear()
            if deterministic:
                if set_cublas:
                    os.environ[CUBLAS_KEY] = CUBLAS_VALUE
                torch.use_deterministic_algorithms(True, warn_only=True)
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
                _record_nondeterministic()
            yield
        finally:
            torch.set_num_threads(saved_threads)
            torch.use_deterministic_algorithms(saved_det, warn_only=saved_warn_only)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved_cudnn
            if set_cublas:
                os.environ.pop(CUBLAS_KEY, None)


def _record_nondeterministic() -> None:
    """Inside a catch_warnings block: show torch's nondeterminism warnings every time and
    remember their operation names in NONDETERMINISTIC (then show them as before)."""
    warnings.filterwarnings("always", message=f".*{_NONDETERMINISTIC_TEXT}.*")
    shown = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if _NONDETERMINISTIC_TEXT in text:
            op = text.split(_NONDETERMINISTIC_TEXT)[0].strip().split()[-1]
            if op not in NONDETERMINISTIC:
                NONDETERMINISTIC.append(op)
                shown(message, category, filename, lineno, file, line)
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def determinism_facts(device, deterministic: bool) -> dict:
    """What the run record says about reproducibility: {'cublas_workspace_config',
    'nondeterministic_ops', 'bitwise'}; bitwise is true when determinism was on, no
    operation reported itself nondeterministic and, on CUDA, cuBLAS had its workspace
    setting (a CPU run with a fixed thread count repeats bit for bit)."""
    cuda = getattr(device, "type", str(device)).startswith("cuda")
    cublas = os.environ.get(CUBLAS_KEY)
    bitwise = bool(deterministic) and not NONDETERMINISTIC and (not cuda or cublas in (":4096:8", ":16:8"))
    return {"cublas_workspace_config": cublas, "nondeterministic_ops": list(NONDETERMINISTIC),
            "bitwise": bitwise}
