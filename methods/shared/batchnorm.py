"""BatchNorm utilities of the meta-learning methods (docs/readings.md, item 10): the running
statistics a meta step moves with the parameters, normalising with running statistics while
an inner loop runs, and setting or recomputing them from training batches. Forward passes
made here take no optimizer step and are not counted in the engine's budget."""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn


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


def bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    """The running means and variances of every BatchNorm layer of ``model`` (the integer
    batch counters are left out: they only matter with momentum=None)."""
    return [t for m in bn_layers(model) for t in (m.running_mean, m.running_var)]
