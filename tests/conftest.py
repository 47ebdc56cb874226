"""Test-wide settings: `run` uses one process unless a test asks for more. Many tests
register a dataset or a method in this process only (monkeypatch), which a worker process
started by ``--jobs auto`` could not see; tests of the workers pass ``--jobs`` themselves."""
import os

os.environ["BENCH_JOBS"] = "1"
