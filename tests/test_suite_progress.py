"""The first suite generation speaks: progress lines (which step, images done/total)
every few seconds; and pyiqa's warnings are silenced only inside the pseudo-MOS call,
not for the rest of the process."""
from __future__ import annotations

import warnings

import numpy as np

from bench.data.progress import Progress
from bench.data.synthetic import pseudo_mos
from bench.data.synthetic.jobs import map_jobs


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_lines_are_periodic_and_end_with_the_total():
    clock, lines = Clock(), []
    bar = Progress(lines.append, "syn-kadid distortions", 10, every_s=5.0, clock=clock)
    for step in range(10):
        clock.t = step * 2.0  # 2 s per unit: a line every third unit, then the last
        bar.advance()
    assert lines == ["  syn-kadid distortions: 4/10 images (6 s)",
                     "  syn-kadid distortions: 7/10 images (12 s)",
                     "  syn-kadid distortions: 10/10 images (18 s)"]


def _square(x: int) -> int:
    return x * x


def test_map_jobs_keeps_order_and_counts_every_job():
    for processes in (1, 2):
        lines = []
        bar = Progress(lines.append, "jobs", 5 * 3, every_s=1e9)
        assert map_jobs(_square, [1, 2, 3, 4, 5], processes, bar, [3] * 5) == [1, 4, 9, 16, 25]
        assert lines == ["  jobs: 15/15 images (0 s)"]


def test_pyiqa_warnings_filter_is_scoped_and_progress_reported(monkeypatch):
    import torch  # noqa: F401 -- torch's own import-time filters are not ours to judge

    monkeypatch.setattr(pseudo_mos, "MEMBERS", [("gmsd", 24)])  # the cheapest member
    before = list(warnings.filters)
    calls = []
    rng = np.random.default_rng(0)
    d, r = (rng.integers(0, 256, (3, 24, 24, 3), dtype=np.uint8) for _ in range(2))
    scores = pseudo_mos.member_scores(d, r, batch=2, progress=lambda *a: calls.append(a))
    assert warnings.filters == before
    assert not any(getattr(f[3], "pattern", f[3]) == "pyiqa" for f in warnings.filters)
    assert list(scores) == ["gmsd"] and np.isfinite(scores["gmsd"]).all() and len(scores["gmsd"]) == 3
    assert calls == [("gmsd", 2, 3), ("gmsd", 1, 3)]
