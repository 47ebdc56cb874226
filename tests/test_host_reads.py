"""No host synchronisation in the training step (issue 20), checked on the CPU: the
host-read counter sees the reads a GPU would wait for, the engine's step and the methods'
updates make none (the NaN check reads once every train.read_losses_every steps, the loop
once per epoch), and bench speed reports the count."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.app import speed_data
from bench.cli import main as cli_main
from bench.core.config import resolve
from bench.core.errors import TrainingDiverged
from bench.core.registry import METHODS
from bench.engine.engine import Engine
from bench.engine.host_reads import HostReadCounter
from bench.engine.loop import FitContext, epoch_mean
from bench.engine.models import build_model

CPU = torch.device("cpu")


def test_counter_counts_scalar_reads_but_not_the_optimizers_own():
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1, foreach=True)   # reads its host step counter
    with HostReadCounter() as c:
        loss = (p * 2).sum()
        loss.backward()
        opt.step()
        opt.step()
        assert c.reads == 0
        float(loss)
        loss.item()
        bool(loss > 0)
        torch.ones(2).tolist()
    assert c.reads == 4 and c.by_kind["__float__"] == 1 and c.by_kind["item"] == 1
    assert any("test_host_reads.py" in w for w in c.where), c.where
    # host arrays wrapped on a CPU are not reads; the counter is off after the block
    with HostReadCounter() as c:
        torch.from_numpy(np.zeros(3)).to(CPU).numpy()
    float(torch.ones(()))
    assert c.reads == 0 and c.summary(10)["reads_per_step"] == 0.0


def standin_fit(method: str, read_every: int, monkeypatch=None):
    cfg = resolve("smoke", {"train.read_losses_every": read_every}, method=method)
    sd = speed_data.standin_data(cfg, types=4, levels=2, refs=4)
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    engine = Engine(cfg, model, CPU, np.random.default_rng(0))
    obj = METHODS.get(method)(cfg)
    ctx = FitContext(engine, sd.train, cfg, lambda e, loss: None, log=lambda m: None)
    obj.setup(ctx)
    return engine, obj, ctx


@pytest.mark.parametrize("method", ["erm", "cis", "cip", "metaiqa"])
def test_training_steps_make_no_host_read(method):
    """At most one read per 50 optimizer steps; none with the periodic check off. A
    float() of the loss (or any .item()) in the step path makes this fail, naming the line."""
    for every, most in ((0, 0), (50, None)):
        engine, obj, ctx = standin_fit(method, every)
        losses = []
        with HostReadCounter() as c:
            while engine.optimizer_steps < 50:
                got = obj.update(ctx)
                losses += [got] if getattr(got, "ndim", 1) == 0 else list(got)
        steps = engine.optimizer_steps
        limit = steps // 50 if most is None else most
        assert c.reads <= limit, (method, every, steps, dict(c.where))
        assert all(isinstance(v, torch.Tensor) for v in losses)
        assert np.isfinite(epoch_mean(losses))


def test_epoch_mean_is_the_mean_of_the_floats():
    vals = [torch.tensor(x, dtype=torch.float32) for x in (0.1, 0.2, 1e-8, 3.3)]
    floats = [float(v) for v in vals]
    mixed = [vals[0], floats[1], vals[2].double(), vals[3]]
    assert epoch_mean(mixed) == float(np.mean(floats))
    assert epoch_mean(floats) == float(np.mean(floats))


def test_a_nan_loss_stops_the_run_at_the_next_periodic_read():
    engine, obj, ctx = standin_fit("erm", 3)
    p = next(engine.model.parameters())
    opt = torch.optim.SGD([p], lr=0.0)
    engine.apply(opt, (p * 0).sum() + float("nan"), 1)   # read after 3 steps, not now
    engine.apply(opt, (p * 0).sum(), 1)
    with pytest.raises(TrainingDiverged, match="training loss became nan within the 3"):
        engine.apply(opt, (p * 0).sum(), 1)
    # the window restarts after a read: three finite steps pass
    for _ in range(3):
        engine.apply(opt, (p * 0).sum(), 1)


def test_bench_speed_reports_reads_per_step(monkeypatch, capsys):
    real = speed_data.standin_data
    monkeypatch.setattr(speed_data, "standin_data",
                        lambda cfg, seed=0, **kw: real(cfg, types=4, levels=2, refs=4, seed=seed, **kw))
    assert cli_main(["speed", "--profile", "smoke", "--steps", "2", "--repeats", "1",
                     "--threads", "1", "--data", "random", "--device", "cpu", "--json",
                     "--method", "cis", "--read-steps", "10"]) == 0
    r = json.loads(capsys.readouterr().out)
    hr = r["host_reads"]
    assert hr["erm"]["steps"] == 10 and hr["method"]["steps"] >= 10
    assert hr["erm"]["reads_per_step"] == 0 and hr["method"]["reads_per_step"] == 0
    assert hr["meets_target"] and hr["target_per_step"] == pytest.approx(0.02)
