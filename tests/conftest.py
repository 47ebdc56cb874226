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


@pytest.fixture(scope="session")
def shared_suite_cache(tmp_path_factory):
    """A BENCH_CACHE shared by the tests that need the whole synthetic suite (seed 0): it is
    generated here, once per test session (once for all xdist workers: they share the
    parent of their own temporary folders; generation runs under the suite's file lock),
    not once per test, and outside any test's subprocess time limit."""
    from bench.data.synthetic.suite import ensure_suite

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = root / "shared-suite-cache"
    path.mkdir(exist_ok=True)
    before = os.environ.get("BENCH_CACHE")
    os.environ["BENCH_CACHE"] = str(path)
    try:
        ensure_suite(0, log=lambda m: None)
    finally:
        if before is None:
            os.environ.pop("BENCH_CACHE", None)
        else:
            os.environ["BENCH_CACHE"] = before
    return path
