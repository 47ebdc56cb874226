"""First-order meta step (Reptile) on a model's parameters and BatchNorm statistics, without
model copies.

``begin()`` snapshots theta (parameters, and the BatchNorm running statistics given as
``buffers``) into tensors allocated once; the inner loop then updates the live model (phi).
``end()`` makes the meta step. Two readings (docs/readings.md, item 9):

* ``interp`` (Reptile, the default): theta <- theta + beta (phi - theta), beta in (0, 1]:
  every coordinate lands on the segment from theta to phi (beta = 1: theta = phi). The
  paper prints a minus sign, read as a typo.
* ``adam`` (an earlier reading of this project, kept only for comparison): (theta - phi)
  is fed to an Adam meta optimizer as theta's gradient. Adam normalises it, so every
  coordinate moves by about its lr whatever |phi - theta| is (tenfold past phi when
  |phi - theta| is 1e-3 and lr 1e-2). Not Reptile; labelled as such in every record.

BatchNorm statistics (item 10): with ``bn_stats='interp'`` the running means and variances
are snapshotted and interpolated exactly like the parameters (so after a meta step they
are theta_bn + beta (phi_bn - theta_bn)); the ``adam`` reading leaves them where the inner
loop put them (the earlier behaviour). ``recompute`` also leaves them alone during training:
the method recomputes them at the final theta before testing (see recompute_bn_stats).

Several tasks per meta step (MetaIQA): ``begin()``, then per task ``task_done()`` (adds
phi_k - theta to a running sum and puts theta back), then ``end_tasks()``:
theta <- theta + beta * mean_k (phi_k - theta).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

META_STEPS = ("interp", "adam")


def bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    """The running means and variances of every BatchNorm layer of ``model`` (the integer
    batch counters are left out: they only matter with momentum=None)."""
    return [t for m in bn_layers(model) for t in (m.running_mean, m.running_var)]


class ReptileMeta:
    """Meta updater over ``params`` (tensors that require grad) and ``buffers``.

    step: 'interp' (theta + beta (phi - theta)) or 'adam' (Adam with lr ``lr`` and
    ``betas`` fed theta - phi); buffers: BatchNorm statistics interpolated with beta
    (ignored by 'adam'). ``steps`` counts meta steps taken.
    """

    def __init__(self, params, step: str = "interp", beta: float = 1.0, lr: float = 1e-2,
                 betas=(0.9, 0.9999), buffers=()):
        from bench.core.errors import UsageError

        if step not in META_STEPS:
            raise UsageError(f"method.meta_step must be one of {', '.join(META_STEPS)}, not {step!r}")
        if not 0.0 < beta <= 1.0:
            raise UsageError(f"method.beta must lie in (0, 1], not {beta!r}")
        self.step_kind, self.beta = step, float(beta)
        self.params = [p for p in params if p.requires_grad]
        self.buffers = list(buffers) if step == "interp" else []
        self.theta = [torch.empty_like(t) for t in self.params + self.buffers]
        self.delta = None   # sum over tasks of phi_k - theta (allocated on first use)
        self.tasks = 0
        self.steps = 0
        self.opt = (torch.optim.Adam(self.params, lr=lr, betas=tuple(betas), foreach=True)
                    if step == "adam" else None)

    @property
    def _live(self) -> list[torch.Tensor]:
        return self.params + self.buffers

    @torch.no_grad()
    def begin(self) -> None:
        """Record theta (the parameters and statistics before the inner loop)."""
        torch._foreach_copy_(self.theta, self._live)
        self.tasks = 0

    @torch.no_grad()
    def end(self) -> None:
        """Meta step from theta towards the live values phi."""
        if self.opt is None:
            # theta + beta (phi - theta), written as phi + (1 - beta)(theta - phi) = lerp
            for live, theta in zip(self._live, self.theta):
                live.copy_(torch.lerp(theta, live, self.beta))
        else:
            diff = torch._foreach_sub(self.theta, self.params)  # theta - phi
            torch._foreach_copy_(self.params, self.theta)
            for p, d in zip(self.params, diff):
                p.grad = d
            self.opt.step()
            for p in self.params:
                p.grad = None
        self.steps += 1

    @torch.no_grad()
    def task_done(self) -> None:
        """One task of a meta-batch is over: add phi - theta to the sum and reset the live
        values to theta for the next task."""
        if self.delta is None:
            self.delta = [torch.zeros_like(t) for t in self.theta]
        if self.tasks == 0:
            torch._foreach_zero_(self.delta)
        diff = torch._foreach_sub(self._live, self.theta)
        torch._foreach_add_(self.delta, diff)
        torch._foreach_copy_(self._live, self.theta)
        self.tasks += 1

    @torch.no_grad()
    def end_tasks(self) -> None:
        """Meta step with the mean task delta: theta + beta * mean_k (phi_k - theta)
        ('interp' only; the 'adam' reading feeds -mean delta to its Adam)."""
        if self.tasks == 0:
            return
        mean = torch._foreach_div(self.delta, float(self.tasks))
        if self.opt is None:
            torch._foreach_add_(self._live, mean, alpha=self.beta)
        else:
            for p, d in zip(self.params, mean):
                p.grad = -d
            self.opt.step()
            for p in self.params:
                p.grad = None
        self.tasks = 0
        self.steps += 1

    def state_dict(self) -> dict:
        """The meta optimizer's state (adam) and the count of meta steps: plain data."""
        return {"steps": self.steps, "opt": self.opt.state_dict() if self.opt else {}}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self.steps = int(state["steps"])
        if self.opt is not None:
            self.opt.load_state_dict(state["opt"])


def bn_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm layer of ``model`` that keeps running statistics."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@contextlib.contextmanager
def bn_normalise_with_running(model: nn.Module):
    """Inside the block every BatchNorm layer of ``model`` normalises with its running
    statistics (eval-mode BatchNorm) and leaves them unchanged, while the rest of the
    model stays in training mode; the layers' modes are restored on exit."""
    layers = bn_layers(model)
    modes = [m.training for m in layers]
    for m in layers:
        m.train(False)
    try:
        yield
    finally:
        for m, mode in zip(layers, modes):
            m.train(mode)


@torch.no_grad()
def refresh_bn_stats(engine, ts, batch: int) -> int:
    """Set every BatchNorm layer's running statistics of ``engine.model`` to those of one
    training-mode forward pass over ``batch`` training images drawn uniformly without
    replacement from ``ts`` (all distortion types and contents mixed; random crops as in
    training). Returns the images used (forward only: not counted in images_seen)."""
    layers = bn_layers(engine.model)
    n = min(int(batch), len(ts))
    if not layers or n < 2:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 1.0
    modes = [m.training for m in layers]
    for m in layers:
        m.train(True)
    pos = np.sort(engine.rng.choice(len(ts), size=n, replace=False))
    x, _ = engine.batch(ts, pos)
    engine.net(x)
    for m, mom, mode in zip(layers, momenta, modes):
        m.momentum = mom
        m.train(mode)
    return n


@torch.no_grad()
def recompute_bn_stats(engine, ts, batch: int) -> int:
    """Recompute every BatchNorm layer's running statistics of ``engine.model`` at its
    current parameters: reset them, then one pass over the training set ``ts`` in training
    mode (random crops, as in training; batches of ``batch`` images) with momentum None, so
    the statistics are the plain average over the pass. Returns the images used (not
    counted in ``engine.images_seen``: no optimizer step is taken)."""

    model = engine.model
    layers = bn_layers(model)
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    order = engine.rng.permutation(len(ts))
    step = max(2, int(batch))   # BatchNorm1d needs two samples in training mode
    for i in range(0, len(order), step):
        pos = order[i:i + step]
        if len(pos) < 2:
            continue
        x, _ = engine.batch(ts, np.sort(pos))
        engine.net(x)
    for m, mom in zip(layers, momenta):
        m.momentum = mom
    return len(order)
