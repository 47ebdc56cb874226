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
the method recomputes them at the final theta before testing (methods/shared/batchnorm.py).

Several tasks per meta step (MetaIQA): ``begin()``, then per task ``task_done()`` (adds
phi_k - theta to a running sum and puts theta back), then ``end_tasks()``:
theta <- theta + beta * mean_k (phi_k - theta). :func:`inner_adam` builds the inner optimizer.
"""
from __future__ import annotations

import torch


class ReptileMeta:
    """Meta updater over ``params`` (tensors that require grad) and ``buffers``.

    step: 'interp' (theta + beta (phi - theta)) or 'adam' (Adam with lr ``lr`` and
    ``betas`` fed theta - phi); buffers: BatchNorm statistics interpolated with beta
    (ignored by 'adam'). ``steps`` counts meta steps taken.
    """

    def __init__(self, params, step: str = "interp", beta: float = 1.0, lr: float = 1e-2,
                 betas=(0.9, 0.9999), buffers=()):
        from bench.core.errors import UsageError

        if step not in ("interp", "adam"):
            raise UsageError(f"the meta step must be interp or adam, not {step!r}")
        if not 0.0 < beta <= 1.0:
            raise UsageError(f"method.beta must lie in (0, 1], not {beta!r}")
        self.step_kind, self.beta = step, float(beta)
        self.params = [p for p in params if p.requires_grad]
        self.buffers = list(buffers) if step == "interp" else []
        self.theta = [torch.empty_like(t) for t in self.params + self.buffers]
        self.delta = None   # sum over tasks of phi_k - theta (allocated on first use)
        self.tasks = 0
        self.steps = 0
        # the Adam reading: fused on CUDA (one kernel, no host reads), foreach elsewhere
        fused = bool(self.params) and self.params[0].device.type == "cuda"
        self.opt = (torch.optim.Adam(self.params, lr=lr, betas=tuple(betas),
                                     **({"fused": True} if fused else {"foreach": True}))
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
            # theta + beta (phi - theta) = lerp(theta, phi, beta), computed into the snapshot
            # (begin() rewrites it) and copied back: two fused calls over every tensor, the
            # same lerp kernel (same bits) as one torch.lerp per tensor
            torch._foreach_lerp_(self.theta, self._live, self.beta)
            torch._foreach_copy_(self._live, self.theta)
        else:
            diff = torch._foreach_sub(self.theta, self.params)  # theta - phi
            torch._foreach_copy_(self.params, self.theta)
            self._adam_step(diff)
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
            self._adam_step(torch._foreach_neg(mean))
        self.tasks = 0
        self.steps += 1

    def _adam_step(self, grads: list) -> None:
        """One step of the Adam meta optimizer fed ``grads`` (one per parameter)."""
        for p, g in zip(self.params, grads):
            p.grad = g
        self.opt.step()
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict:
        """The meta optimizer's state (adam) and the count of meta steps: plain data."""
        return {"steps": self.steps, "opt": self.opt.state_dict() if self.opt else {}}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        self.steps = int(state["steps"])
        if self.opt is not None:
            self.opt.load_state_dict(state["opt"])


def inner_adam(engine, lr: float, head_lr: float | None = None):
    """The inner Adam of a meta-learning method: one lr ``lr`` for the whole model, or
    (``head_lr`` given, MetaIQA's code) ``lr`` for the backbone and ``head_lr`` for the
    regression head."""
    model = engine.model
    if head_lr is None:
        return engine.adam(model.parameters(), lr)
    if not (hasattr(model, "backbone") and hasattr(model, "head")):
        from bench.core.errors import UsageError

        raise UsageError("a separate head lr needs a model with .backbone and .head (an IQANet)")
    return engine.adam([{"params": model.backbone.parameters(), "lr": lr},
                        {"params": model.head.parameters(), "lr": head_lr}], lr)
