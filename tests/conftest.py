"""Test-wide settings: `run` uses one process unless a test asks for more. Many tests
register a dataset or a method in this process only (monkeypatch), which a worker process
started by ``--jobs auto`` could not see; tests of the workers pass ``--jobs`` themselves."""
import os

os.environ["BENCH_JOBS"] = "1"

import pytest


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test starts with an empty BENCH_CACHE of its own (tests that need one set it
    themselves), so whether a reader finds the synthetic suite at hand never depends on the
    machine the tests run on: here it is never at hand unless a test generates it."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
