"""Process-wide state a run changes, restored after it: torch's intra-op threads, its
deterministic-algorithms flag (and warn-only mode), cuDNN's flags, the warnings filters and
the torch and Python random generators' states... only what the run sets. Anything that
calls the harness in-process (a notebook, a test, submitit's debug executor) gets its own
state back."""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator


@contextlib.contextmanager
def run_scope(threads: int = 0, deterministic: bool = False) -> Iterator[None]:
    """Within the block: ``threads`` torch threads when > 0, deterministic algorithms
    (warn-only) when asked; any warnings filter added inside. All restored on exit."""
    import torch

    saved_threads = torch.get_num_threads()
    saved_det = torch.are_deterministic_algorithms_enabled()
    saved_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    saved_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with warnings.catch_warnings():
        try:
            if threads:
                torch.set_num_threads(int(threads))
            if deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            yield
        finally:
            torch.set_num_threads(saved_threads)
            torch.use_deterministic_algorithms(saved_det, warn_only=saved_warn_only)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved_cudnn
