"""First-order meta step (Reptile) on the model's parameters, without model copies.

``begin()`` snapshots theta into buffers allocated once; the inner loop then updates the
live parameters (phi). ``end()`` feeds (theta - phi) to the meta optimizer as theta's
gradient, after putting theta back: with plain SGD of learning rate beta this is exactly
theta <- theta + beta (phi - theta) (the paper prints a minus sign, read as a typo; see
DESIGN.md s.4). With Adam (the paper's meta optimizer) the same difference is the gradient.
"""
from __future__ import annotations

import torch


class ReptileMeta:
    """Meta updater over ``params`` (a list of tensors that require grad); ``optimizer``
    adam (with ``betas``) or sgd, learning rate ``lr`` (beta)."""

    def __init__(self, params, optimizer: str = "adam", lr: float = 1e-2,
                 betas=(0.9, 0.9999)):
        self.params = [p for p in params if p.requires_grad]
        self.theta = [torch.empty_like(p) for p in self.params]
        if optimizer == "adam":
            self.opt = torch.optim.Adam(self.params, lr=lr, betas=tuple(betas), foreach=True)
        elif optimizer == "sgd":
            self.opt = torch.optim.SGD(self.params, lr=lr, foreach=True)
        else:
            from bench.errors import UsageError

            raise UsageError(f"method.meta_optimizer must be adam or sgd, not {optimizer!r}")

    @torch.no_grad()
    def begin(self) -> None:
        """Record theta (the parameters before the inner loop)."""
        torch._foreach_copy_(self.theta, self.params)

    @torch.no_grad()
    def end(self) -> None:
        """Meta step from theta towards the current parameters phi."""
        diff = torch._foreach_sub(self.theta, self.params)  # theta - phi
        torch._foreach_copy_(self.params, self.theta)
        for p, d in zip(self.params, diff):
            p.grad = d
        self.opt.step()
        for p in self.params:
            p.grad = None
