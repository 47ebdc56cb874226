"""Per-epoch checkpoints: a fit interrupted after an epoch and started again from its
checkpoint ends with exactly the parameters and losses of an uninterrupted fit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.plan as plan
from bench.models import build_model
from bench.loop import FitContext
from bench.train import Engine
from tests.test_methods import method_config, one_thread, tiny_data  # noqa: F401  (fixtures)


class Interrupt(Exception):
    """Stands in for a kill between two epochs."""


def _fit(method: str, checkpoint, stop_after: int | None = None):
    """Fit ``method`` on fold A of the tiny set with checkpoints at ``checkpoint``; raise
    Interrupt once ``stop_after`` epochs are reported. Returns (state dict, losses)."""
    cfg = method_config(method, epochs=4, iterations=2)
    cfg["train"]["checkpoint"] = True
    session = plan.prepare(cfg, log=lambda m: None)
    fold = session.folds[0]
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], log=lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    ts = plan.train_set_from(session, fold.train)
    subsets = plan.subset_provider(session, ts, cfg, lambda m: None)
    losses: list[float] = []

    def epoch_done(epoch, loss):
        losses.append(loss)
        if stop_after is not None and len(losses) == stop_after:
            raise Interrupt

    session.method_cls(cfg).fit(FitContext(engine, ts, cfg, subsets, epoch_done, checkpoint))
    return {k: v.clone() for k, v in engine.model.state_dict().items()}, losses


@pytest.mark.parametrize("method", ["erm", "cis", "cip", "metaiqa"])
def test_resume_from_checkpoint_matches_uninterrupted(tiny_data, tmp_path, method):
    full_state, full_losses = _fit(method, tmp_path / "a.pt")
    ck = tmp_path / "b.pt"
    with pytest.raises(Interrupt):
        _fit(method, ck, stop_after=3)     # killed in epoch 2, after epoch 1's checkpoint
    assert ck.is_file()
    state, losses = _fit(method, ck)       # a fresh process would rebuild everything too
    assert losses == full_losses           # replayed history of epochs 0-1, then 2-3 anew
    for k in full_state:
        torch.testing.assert_close(state[k], full_state[k], rtol=0, atol=0)
