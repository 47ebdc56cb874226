"""A run's process-wide settings (torch threads, deterministic algorithms, warnings
filters) are restored after it, so in-process callers (notebooks, tests, submitit's debug
executor) get their own state back."""
from __future__ import annotations

import warnings

import pytest
import torch

from bench.core.scope import run_scope


@pytest.fixture()
def known_state():
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


def test_run_scope_sets_then_restores_threads_determinism_and_warnings(known_state):
    filters = list(warnings.filters)
    with run_scope(threads=1, deterministic=True):
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        warnings.filterwarnings("ignore", module="pyiqa")     # what a loader might add
    assert torch.get_num_threads() == 2
    assert not torch.are_deterministic_algorithms_enabled()
    assert warnings.filters == filters


def test_run_scope_restores_after_an_exception(known_state):
    with pytest.raises(RuntimeError), run_scope(threads=1, deterministic=True):
        raise RuntimeError("a fold failed")
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
