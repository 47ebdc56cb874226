"""The epoch loop the engine owns: a method implements hooks (``setup``, ``update``,
optional ``end_epoch``; see bench/engine/method.py) and :func:`train` runs the epochs, the inner
learning-rate schedule, per-epoch checkpoints and resume, NaN checks and the per-epoch
progress callback around them.

Checkpoints hold tensors and plain data only (state dicts, ints, lists, the numpy
generator's state as plain ints) and load with ``torch.load(weights_only=True)``: a
checkpoint that does not load (truncated, corrupt, or not ours) is discarded with a
one-line notice and the fit starts again from epoch 0.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..core.errors import BenchError, TrainingDiverged
from .engine import Engine, TrainSet


@dataclass
class FitContext:
    """What a method's hooks get: the engine (its model, steps and generator), the training
    set (with its references, ``TrainSet.reference_image``), the config, a per-epoch
    progress callback, where checkpoints go and the log.

    epoch_done(epoch, mean loss): called by :func:`train` after every epoch.
    checkpoint: where :func:`train` keeps its per-epoch checkpoint (None: no checkpoints).
    """

    engine: Engine
    train: TrainSet
    cfg: dict
    epoch_done: Callable[[int, float], None]
    checkpoint: Optional[Path] = None
    log: Callable[[str], None] = print
    history: list = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return int(self.cfg["train"]["epochs"])

    def epoch_images(self) -> int:
        """The image budget of one epoch for methods that count epochs in images: the
        training-set size (every image once, on average), capped by
        train.iterations_per_epoch x train.batch_size (ERM's batches) when the profile caps
        epochs. ERM's iterations under this rule are exactly those of the cap above."""
        n = len(self.train)
        cap = self.cfg["train"].get("iterations_per_epoch")
        return n if not cap else min(n, int(cap) * int(self.cfg["train"]["batch_size"]))

    def epoch_steps(self) -> int:
        """The optimizer-step budget of one epoch under ``train.budget = steps``: the steps
        ERM takes over :meth:`epoch_images` images (ceil(epoch_images / train.batch_size)),
        so every method makes the same number of optimizer steps whatever its batch."""
        return -(-self.epoch_images() // int(self.cfg["train"]["batch_size"]))

    @property
    def budget(self) -> str:
        """'images' (default: equal images per epoch) or 'steps' (equal optimizer steps)."""
        return str(self.cfg["train"].get("budget", "images"))


def train(method, ctx: FitContext) -> list[float]:
    """Fit ``method`` (a :class:`bench.engine.method.Method`) on ``ctx.train``: its ``setup``, then
    per epoch the calls of ``update`` (see below), the inner scheduler step, ``end_epoch``
    and ``ctx.epoch_done(epoch, mean loss)``; a checkpoint after every epoch but the last
    when ``ctx.checkpoint`` is set, resumed from on entry; ``end_training`` after the last
    epoch. Returns the per-epoch mean losses.

    An epoch is ``method.iterations_per_epoch()`` calls of ``update`` (capped by the
    schedule's ``iterations_per_epoch``, train.iterations_per_epoch by default) for a
    method whose ``epoch_unit`` is 'iterations'; for 'images' (the harness's methods) it
    is as many calls as it takes for the engine's ``images_seen`` to reach (epoch + 1) x
    ``ctx.epoch_images()`` since the fit began (so every method sees the same images over
    the fit, up to the images of one of its iterations, whatever its iteration size); under
    ``train.budget = steps`` the same rule counts optimizer steps against
    ``ctx.epoch_steps()`` (ERM's steps per epoch), so every method makes equal progress in
    steps. ``method.budget`` records the rule."""
    e = ctx.engine
    method.setup(ctx)
    schedule = method.schedule()
    epochs = int(schedule["epochs"])
    by_images = method.epoch_unit == "images"
    by_steps = by_images and ctx.budget == "steps"
    cap = schedule.get("iterations_per_epoch", ctx.cfg["train"].get("iterations_per_epoch"))
    method.budget = {"epoch_unit": ("steps" if by_steps else "images") if by_images
                     else "iterations", "budget": ctx.budget if by_images else "iterations",
                     "epochs": epochs, "epoch_images": ctx.epoch_images() if by_images else None,
                     "epoch_steps": ctx.epoch_steps() if by_steps else None}
    state = dict(method.state())
    if method.optimizer is not None:
        state["scheduler"] = _scheduler(method.optimizer, schedule)
    # the restored counts below are relative to the same start
    base = e.optimizer_steps if by_steps else e.images_seen
    start = _resume(ctx, state)
    for epoch in range(start, epochs):
        losses: list[float] = []
        if by_images:
            _budgeted_epoch(method, ctx, epoch, base, by_steps, losses)
        else:
            for _ in range(_capped(method.iterations_per_epoch(), cap)):
                losses += _as_list(method.update(ctx))
        if "scheduler" in state:
            state["scheduler"].step()
        method.end_epoch(ctx, epoch)
        _epoch_done(ctx, epoch, epoch_mean(losses))
        if ctx.checkpoint is not None and epoch + 1 < epochs:
            _save(ctx, state, epoch)
    method.end_training(ctx)
    return list(ctx.history)


def _as_list(got) -> list:
    """An update's losses as a list: a float or a 0-dim tensor (Engine.step's) is one."""
    if isinstance(got, (float, int)) or getattr(got, "ndim", None) == 0:
        return [got]
    return list(got)


def epoch_mean(losses: list) -> float:
    """The mean of an epoch's losses (floats and device tensors, e.g. Engine.step's),
    read on the host in ONE copy: the same float64 mean as over their floats one by one."""
    import torch

    at = [k for k, v in enumerate(losses) if isinstance(v, torch.Tensor)]
    values = np.array([0.0 if isinstance(v, torch.Tensor) else float(v) for v in losses],
                      dtype=np.float64)
    if at:
        stacked = torch.stack([losses[k].detach().reshape(()).double() for k in at])
        values[at] = stacked.cpu().numpy()
    return float(np.mean(values))


def _budgeted_epoch(method, ctx: FitContext, epoch: int, base: int, by_steps: bool,
                    losses: list) -> None:
    """Calls of ``method.update`` until the fit's images (``by_steps``: optimizer steps)
    since ``base`` reach (epoch + 1) x the epoch budget; cumulative, so the whole fit sees
    epochs x the budget up to one iteration's worth. Losses are appended to ``losses``."""
    e = ctx.engine
    count = (lambda: e.optimizer_steps) if by_steps else (lambda: e.images_seen)
    target = (epoch + 1) * (ctx.epoch_steps() if by_steps else ctx.epoch_images())
    while count() - base < target or not losses:  # at least one update
        before = count()
        losses += _as_list(method.update(ctx))
        if count() == before:
            unit = "optimizer steps" if by_steps else "images"
            raise BenchError(f"method {type(method).__name__}: an update made no {unit}, "
                             f"so an epoch counted in {unit} never ends (set "
                             "epoch_unit = 'iterations' or step through Engine.step)")


def _capped(natural: int, cap) -> int:
    """Iterations in an epoch: ``natural`` (every image once) unless ``cap`` (the
    schedule's iterations_per_epoch, e.g. the smoke profile's) is smaller."""
    return natural if not cap else min(int(cap), natural)


def _scheduler(opt, schedule: dict):
    """The inner lr x schedule['lr_decay'] every schedule['lr_step_epochs'] epochs (stepped
    once per epoch, so the decay never compounds)."""
    import torch

    return torch.optim.lr_scheduler.StepLR(opt, step_size=int(schedule["lr_step_epochs"]),
                                           gamma=float(schedule["lr_decay"]))


def _epoch_done(ctx: FitContext, epoch: int, loss: float) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(f"training loss became {loss} in epoch {epoch}; the run stops "
                               "without a done marker (lower train.lr or check the data)")
    ctx.history.append(loss)
    ctx.epoch_done(epoch, loss)


def _save(ctx: FitContext, state: dict, epoch: int) -> None:
    import torch

    from ..core.atomic import write_bytes_atomic

    e = ctx.engine
    buf = io.BytesIO()
    torch.save({"epoch": epoch, "model": e.model.state_dict(),
                "state": {k: v.state_dict() for k, v in state.items()},
                "numpy_rng": e.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "images_seen": e.images_seen, "optimizer_steps": e.optimizer_steps,
                "history": list(ctx.history)}, buf)
    write_bytes_atomic(ctx.checkpoint, buf.getvalue())


class CheckpointDiscarded(Exception):
    """A checkpoint was found but could not be used; the caller restarts the fit."""


def _resume(ctx: FitContext, state: dict) -> int:
    """Restore a checkpoint into the model, ``state``, the generators and the history;
    the first epoch still to run (0 without a checkpoint). A checkpoint that does not
    load is removed with a one-line notice (0 is returned; nothing was changed). One that
    loads but does not fit raises CheckpointDiscarded after removing it (the model may be
    half-restored, so the caller rebuilds everything)."""
    import torch

    path = ctx.checkpoint
    if path is None or not path.is_file():
        return 0
    try:
        # on the CPU: the torch generator's state must stay a CPU tensor, and load_state_dict
        # copies model and optimizer tensors to their parameters' device
        ck = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ck, dict) or set(ck.get("state", {})) != set(state):
            raise ValueError("it was written for another method or schedule")
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is discarded
        ctx.log(f"{path}: checkpoint discarded ({_why(exc)}); the fit starts again from epoch 0")
        path.unlink(missing_ok=True)
        return 0
    e = ctx.engine
    try:
        e.model.load_state_dict(ck["model"])
        for name, obj in state.items():
            obj.load_state_dict(ck["state"][name])
        e.rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        e.images_seen = int(ck["images_seen"])
        e.optimizer_steps = int(ck["optimizer_steps"])
        history = [float(x) for x in ck["history"]]
        start = int(ck["epoch"]) + 1
    except Exception as exc:  # noqa: BLE001
        ctx.log(f"{path}: checkpoint discarded ({_why(exc)}); the fit starts again from epoch 0")
        path.unlink(missing_ok=True)
        raise CheckpointDiscarded(str(path)) from None
    for epoch, loss in enumerate(history):
        ctx.history.append(loss)
        ctx.epoch_done(epoch, loss)
    return start


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    first = text[0] if len(text[0]) <= 160 else text[0][:157].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {first}"
