"""One guard for the tests whose point is that a refusal comes before any data is read."""
from __future__ import annotations

from pathlib import Path

import bench.engine.session
from bench.data.synthetic import suite


def forbid_data(monkeypatch, tmp_path: Path, before: str, *session_functions: str) -> None:
    """Point BENCH_CACHE at ``tmp_path/cache`` and make generating the synthetic suite, or
    calling any of ``session_functions`` of bench.engine.session, fail the test with
    "data was ... before <before>"."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))

    def forbidden(*a, **k):
        raise AssertionError(f"data was touched before {before}")

    monkeypatch.setattr(suite, "ensure_suite", forbidden)
    for name in session_functions:
        monkeypatch.setattr(bench.engine.session, name, forbidden)
