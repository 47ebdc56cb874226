"""Readings of the meta step that give it an effect (issue 23; docs/readings.md item 9).

* interp with beta = 1 and one inner step is plain Adam over one-subset batches, to the
  bit: the meta step is the identity (and the record says so);
* ``inner_steps`` takes that many steps on each subset before moving on, and with beta < 1
  the result differs from plain Adam;
* ``subsets=hard`` puts each reference in its most probable cluster only.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.core.config import resolve
from bench.engine.engine import Engine
from bench.engine.loop import FitContext
from bench.methods.causal.base import inner_optimizer, meta_facts, meta_is_identity, meta_updater
from bench.methods.causal.cis import CIS
from bench.methods.shared.division import build_subsets, only_weighted
from bench.methods.shared.subsets import SubsetBatches
from test_meta import armed, tiny_trainset

SIZE = 4


class TinyBNIQA(nn.Module):
    """Linear -> BatchNorm -> Linear on the flattened N x 3 x 4 x 4 image (N scores)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3 * SIZE * SIZE, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(1)


def _cis_run(sets: list[str], iterations: int = 3):
    """(final parameters and BN statistics, the (subset, positions, weights) drawn in order)
    after ``iterations`` CIS meta-iterations from a fixed init with the given settings."""
    torch.manual_seed(0)
    ts, subsets = tiny_trainset(SIZE)
    cfg = resolve("smoke", {"data.size": SIZE, "data.crop": SIZE, "data.flip": False},
                  sets=sets, method="cis")
    model = TinyBNIQA()
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(2))
    drawn, real_next = [], batches.next
    batches.next = lambda k: drawn.append((k, *real_next(k))) or drawn[-1][1:]
    opt = engine.adam(model.parameters(), 1e-2)
    method = armed(CIS, cfg, subsets, batches, opt, meta_updater(engine, cfg["method_settings"]))
    ctx = FitContext(engine, ts, cfg, lambda e, l: None)
    for _ in range(iterations):
        method.update(ctx)
    return [t.detach().clone() for t in model.state_dict().values()], drawn, (ts, cfg, method)


def _plain_adam(drawn, ts, cfg) -> list[torch.Tensor]:
    """The same batches, in the same order, stepped by one plain Adam with no meta step."""
    torch.manual_seed(0)
    model = TinyBNIQA()
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    opt = engine.adam(model.parameters(), 1e-2)
    for _, pos, w in drawn:
        engine.step(opt, ts, pos, w)
    return [t.detach().clone() for t in model.state_dict().values()]


def test_interp_beta_one_one_inner_step_is_one_type_batch_adam_bit_for_bit():
    got, drawn, (ts, cfg, method) = _cis_run(["method.meta_step=interp", "method.beta=1.0"])
    want = _plain_adam(drawn, ts, cfg)
    assert len(drawn) == 3 * len(method.subsets)
    assert all(torch.equal(a, b) for a, b in zip(got, want))   # parameters and BN buffers
    facts = meta_facts(method.hp, method.meta)
    assert facts["meta_identity"] is True and "identity" in facts["meta_note"]


def test_beta_below_one_or_several_inner_steps_is_not_plain_adam():
    for sets in (["method.beta=0.5"], ["method.beta=0.5", "method.inner_steps=3"]):
        got, drawn, (ts, cfg, method) = _cis_run(sets)
        want = _plain_adam(drawn, ts, cfg)
        assert not all(torch.equal(a, b) for a, b in zip(got, want))
        assert meta_is_identity(method.hp) is False
        assert "meta_note" not in meta_facts(method.hp, method.meta)


def test_inner_steps_stay_on_one_subset_before_moving_on():
    _, drawn, (_, _, method) = _cis_run(["method.inner_steps=3", "method.beta=0.5"], iterations=2)
    n = len(method.subsets)
    assert len(drawn) == 2 * 3 * n
    visits = [k for k, _, _ in drawn]
    runs = [visits[i:i + 3] for i in range(0, len(visits), 3)]
    assert all(len(set(r)) == 1 for r in runs)          # three steps on the same subset
    for it in range(2):                                 # every subset once per iteration
        assert sorted(r[0] for r in runs[it * n:(it + 1) * n]) == list(range(n))


def test_hard_subsets_hold_only_the_argmax_cluster():
    rng = np.random.default_rng(0)
    types = [("d", "AB"[k % 2]) for k in range(12)]
    refs = [("d", f"r{k // 2}") for k in range(12)]
    probs = {r: rng.dirichlet([1.0, 1.0]) for r in set(refs)}
    hard = {r: np.eye(2)[np.argmax(p)] for r, p in probs.items()}
    subsets = only_weighted(build_subsets(types, refs, hard, 2))
    for s in subsets:
        cluster = s.key[-1]
        members = [k for k in range(12) if types[k] == s.key[0] and np.argmax(probs[refs[k]]) == cluster]
        assert sorted(s.items.tolist()) == members
        np.testing.assert_allclose(s.weights, np.full(len(members), 1.0 / len(members)))
    assert sum(len(s.items) for s in subsets) == 12     # hard: every image exactly once
    soft = build_subsets(types, refs, probs, 2)
    assert sum(len(s.items) for s in soft) == 2 * 12    # soft: every image in both clusters


def test_inner_beta1_replaces_only_the_inner_adams_first_beta():
    for sets, beta1 in (([], 0.9), (["method.inner_beta1=0"], 0.0), (["method.inner_beta1=0.5"], 0.5)):
        cfg = resolve("smoke", sets=sets, method="cis")
        engine = Engine(cfg, TinyBNIQA(), torch.device("cpu"), np.random.default_rng(0))
        opt = inner_optimizer(engine, cfg["method_settings"], 1e-3)
        assert all(g["betas"] == (beta1, cfg["train"]["betas"][1]) for g in opt.param_groups)


def test_cip_takes_inner_steps_steps_per_meta_iteration():
    from bench.methods.causal.cip import CIP

    torch.manual_seed(0)
    ts, subsets = tiny_trainset(SIZE)
    cfg = resolve("smoke", {"data.size": SIZE, "data.crop": SIZE, "data.flip": False},
                  sets=["method.inner_steps=3", "method.beta=0.5"], method="cip")
    model = TinyBNIQA()
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(2))
    method = armed(CIP, cfg, subsets, batches, engine.adam(model.parameters(), 1e-2),
                   meta_updater(engine, cfg["method_settings"]))
    losses = method.update(FitContext(engine, ts, cfg, lambda e, l: None))
    assert len(losses) == 3 and engine.optimizer_steps == 3 and method.meta.steps == 1
    assert engine.images_seen == 3 * 3 * len(subsets)
