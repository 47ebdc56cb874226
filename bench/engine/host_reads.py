"""Counting device-to-host reads (issue 20): every ``.item()``, ``float()``, ``int()``,
``bool()``, ``.tolist()`` of a tensor, and ``.numpy()``, ``.cpu()``, ``np.asarray``,
``.to('cpu')`` of a tensor on a GPU, made while a :class:`HostReadCounter` is active. On a GPU each of them
waits for the queued work to finish (a host synchronisation); on a CPU nothing waits, but
the same code makes the same reads, so the count shows a sync that crept into the step
on a CPU-only machine (``bench speed --json``: ``host_reads``; tests/test_host_reads.py).

Reads made inside an optimizer's ``step`` are not counted: they are PyTorch's own (the
foreach Adam reads its step counter, a host tensor even when the model is on a GPU; the
fused Adam on CUDA reads nothing), not the harness's. The counter is a
``TorchFunctionMode``: it costs a Python call per torch function while active, so speed
timings are never taken with it on.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

import torch
from torch.overrides import TorchFunctionMode

# Tensor methods that hand a value to the host: scalar reads (a sync on a GPU, counted on
# any device) and copies (counted only from a tensor that is not on the CPU: on a CPU they
# are how host arrays become tensors, e.g. torch.from_numpy(a).to(device), and cannot be
# told apart from a read).
SCALAR_READS = frozenset({"item", "__float__", "__int__", "__bool__", "__index__", "tolist"})
COPY_READS = frozenset({"numpy", "cpu", "__array__", "to"})


def _is_read(name: str, args: tuple, kwargs: dict) -> bool:
    """True for a scalar read of a tensor, or a copy of a device tensor to the host."""
    if name in SCALAR_READS:
        return True
    if name not in COPY_READS or not args or not isinstance(args[0], torch.Tensor):
        return False
    if args[0].device.type == "cpu":
        return False
    if name != "to":
        return True
    for a in list(args[1:]) + list(kwargs.values()):
        if isinstance(a, (str, torch.device)) and torch.device(a).type == "cpu":
            return True
    return False


class HostReadCounter(TorchFunctionMode):
    """While active (``with HostReadCounter() as c``), ``c.reads`` counts host reads of
    tensors, ``c.by_kind`` them by method name and ``c.where`` by the first caller frame
    outside torch (file:line), so a test failure names the line that syncs."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.by_kind: Counter = Counter()
        self.where: Counter = Counter()
        self._in_optimizer = 0
        self._hooks: list = []

    def __enter__(self):
        from torch.optim.optimizer import (register_optimizer_step_post_hook,
                                           register_optimizer_step_pre_hook)

        self._hooks = [register_optimizer_step_pre_hook(self._opt_enter),
                       register_optimizer_step_post_hook(self._opt_exit)]
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        self._hooks = []
        return super().__exit__(*exc)

    def _opt_enter(self, *args) -> None:
        self._in_optimizer += 1

    def _opt_exit(self, *args) -> None:
        self._in_optimizer -= 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if not self._in_optimizer and _is_read(name, args, kwargs):
            self.reads += 1
            self.by_kind[name] += 1
            self.where[_caller()] += 1
        return func(*args, **kwargs)

    def per_step(self, steps: int) -> Optional[float]:
        """Reads per optimizer step over ``steps`` steps (None when no step was taken)."""
        return self.reads / steps if steps else None

    def summary(self, steps: int) -> dict:
        """{'reads', 'steps', 'reads_per_step', 'where'} for a report."""
        return {"reads": self.reads, "steps": int(steps), "reads_per_step": self.per_step(steps),
                "where": dict(self.where.most_common(5))}


def _caller() -> str:
    """file:line of the innermost frame outside torch and this module."""
    import sys

    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if "/torch/" not in name and name != __file__:
            return f"{'/'.join(name.split('/')[-2:])}:{f.f_lineno}"
        f = f.f_back
    return "?"
