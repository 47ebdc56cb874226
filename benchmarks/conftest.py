"""Collect ``bench_*.py`` here too, so `python -m pytest benchmarks` finds the benchmark
files (pytest's default pattern is test_*.py). These files stay out of the default test
run: pyproject's testpaths is ``tests``."""
from __future__ import annotations

import pytest


def pytest_collect_file(file_path, parent):
    """A Module for benchmarks/bench_*.py unless pytest collects it itself (a file named
    on the command line is collected whatever its name)."""
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
