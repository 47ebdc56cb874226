"""Per-epoch checkpoints: a fit interrupted after an epoch and started again from its
checkpoint ends with exactly the parameters and losses of an uninterrupted fit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.engine.session as plan
from bench.engine.models import build_model
from bench.engine.loop import FitContext
from bench.engine.engine import Engine
from tests.test_methods import method_config, one_thread, tiny_data  # noqa: F401  (fixtures)


class Interrupt(Exception):
    """Stands in for a kill between two epochs."""


def _fit_logged(method: str, checkpoint, notices: list):
    """:func:`_fit` with the fit's log lines collected in ``notices``."""
    return _fit(method, checkpoint, log=notices.append)


def _fit(method: str, checkpoint, stop_after: int | None = None, log=lambda m: None):
    """Fit ``method`` on fold A of the tiny set with checkpoints at ``checkpoint``; raise
    Interrupt once ``stop_after`` epochs are reported. Returns (state dict, losses)."""
    cfg = method_config(method, epochs=4, iterations=2)
    cfg["train"]["checkpoint"] = True
    session = plan.prepare(cfg, log=lambda m: None)
    fold = session.folds[0]
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], log=lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    ts = plan.train_set_from(session, fold.method_parts())
    losses: list[float] = []

    def epoch_done(epoch, loss):
        losses.append(loss)
        if stop_after is not None and len(losses) == stop_after:
            raise Interrupt

    session.method_cls(cfg).fit(FitContext(engine, ts, cfg, epoch_done, checkpoint, log))
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


class _Planted:
    """Pickles to a call of ``pathlib.Path.touch`` on a marker file: what an attacker's
    checkpoint would run (os.system alike) if it were loaded with weights_only=False."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_planted_pickle_in_a_checkpoint_never_executes(tiny_data, tmp_path, capsys):
    marker = tmp_path / "executed"
    ck = tmp_path / "c.pt"
    torch.save({"epoch": 0, "model": _Planted(marker)}, ck)
    notices = []
    state, losses = _fit_logged("erm", ck, notices)
    assert not marker.exists()                       # the pickle's call never ran
    assert len(notices) == 1 and "checkpoint discarded" in notices[0] and "\n" not in notices[0]
    full_state, full_losses = _fit("erm", tmp_path / "fresh.pt")
    assert losses == full_losses                     # the fold restarted from epoch 0
    for k in full_state:
        torch.testing.assert_close(state[k], full_state[k], rtol=0, atol=0)


def test_truncated_checkpoint_is_discarded_and_the_fit_restarts(tiny_data, tmp_path):
    ck = tmp_path / "b.pt"
    with pytest.raises(Interrupt):
        _fit("cis", ck, stop_after=3)
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    notices = []
    state, losses = _fit_logged("cis", ck, notices)
    # CIS's defaults also say, once, that their meta step is the identity (issue 23)
    notices = [n for n in notices if "meta step is the identity" not in n]
    assert len(notices) == 1 and "checkpoint discarded" in notices[0]
    full_state, full_losses = _fit("cis", tmp_path / "a.pt")
    assert losses == full_losses
    for k in full_state:
        torch.testing.assert_close(state[k], full_state[k], rtol=0, atol=0)


def test_checkpoint_holds_plain_data_only(tiny_data, tmp_path):
    ck = tmp_path / "b.pt"
    with pytest.raises(Interrupt):
        _fit("metaiqa", ck, stop_after=2)
    ck_data = torch.load(ck, weights_only=True)      # raises on anything but plain data
    assert ck_data["epoch"] == 0 and isinstance(ck_data["numpy_rng"]["state"]["state"], int)
