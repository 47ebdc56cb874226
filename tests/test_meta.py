"""The meta-learning mathematics of the causal paradigms (docs/readings.md), on toy problems.

* ReptileMeta: the interp reading is theta + beta (phi - theta), checked to the bit on a
  tiny linear model with hand-computed numbers and on random tensors (every coordinate on
  the segment from theta to phi; beta = 1 lands on phi); BatchNorm running statistics take
  the same step; a meta-batch of tasks resets phi per task and steps with the mean delta;
  the adam reading feeds theta - phi to Adam.
* CIS (Algorithm 1): every subset is visited exactly once per meta-iteration, in a fresh
  order, and the final parameters match a hand-computed sequence of SGD inner steps on a
  quadratic loss followed by the meta step.
* CIP (Algorithm 2): the parallel batch's weights sum to one, and the inner step on a tiny
  linear model equals one SGD step along the gradient of the mean of the subset losses,
  computed with autograd from the explicit formula.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.core.config import resolve
from bench.data.bank import ImageBank
from bench.methods.shared.division import Subset, build_subsets
from bench.core.errors import UsageError
from bench.engine.loop import FitContext
from bench.methods.shared.subsets import SubsetBatches
from bench.engine.engine import Engine, TrainSet
from bench.methods.causal.cip import CIP, parallel_batch
from bench.methods.causal.cis import CIS, serial_meta_iteration
from bench.methods.shared.reptile import ReptileMeta


def tiny_linear() -> nn.Linear:
    """A 2 -> 1 linear model with hand-set parameters w = [1, 2], b = [-1]."""
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.bias.copy_(torch.tensor([-1.0]))
    return model


def set_params(model: nn.Module, values) -> None:
    """Overwrite the parameters of ``model`` (in order) with ``values`` (the inner loop's phi)."""
    with torch.no_grad():
        for p, v in zip(model.parameters(), values):
            p.copy_(torch.as_tensor(v, dtype=p.dtype).reshape(p.shape))


# --------------------------------------------------------------------------- ReptileMeta
def test_reptile_interp_is_theta_plus_beta_phi_minus_theta_exactly():
    model = tiny_linear()
    meta = ReptileMeta(model.parameters(), "interp", beta=0.25)
    meta.begin()                                   # theta: w = [1, 2], b = -1
    set_params(model, [[[3.0, -2.0]], [1.0]])      # phi:   w = [3, -2], b = 1
    meta.end()
    # theta + 0.25 (phi - theta): w = [1 + 0.5, 2 - 1], b = -1 + 0.5 (dyadic: exact in fp32)
    assert torch.equal(model.weight, torch.tensor([[1.5, 1.0]]))
    assert torch.equal(model.bias, torch.tensor([-0.5]))
    assert all(p.grad is None for p in model.parameters())

    # a second meta-iteration starts from the new theta (buffers are re-snapshotted)
    meta.begin()
    set_params(model, [[[1.5, 5.0]], [3.5]])
    meta.end()
    assert torch.equal(model.weight, torch.tensor([[1.5, 2.0]]))
    assert torch.equal(model.bias, torch.tensor([0.5]))


def test_reptile_interp_moves_towards_phi_not_away():
    """The paper's printed minus sign would move away from phi; the reading is Reptile's."""
    model = tiny_linear()
    theta = [p.detach().clone() for p in model.parameters()]
    meta = ReptileMeta(model.parameters(), "interp", beta=0.5)
    meta.begin()
    phi = [t + 1.0 for t in theta]
    set_params(model, phi)
    meta.end()
    for p, t, f in zip(model.parameters(), theta, phi):
        assert (p - t).abs().sum() < (f - t).abs().sum()   # moved, but not past phi
        assert torch.all(torch.sign(p - t) == torch.sign(f - t))


def test_reptile_adam_is_fed_theta_minus_phi():
    model = tiny_linear()
    theta = [p.detach().clone() for p in model.parameters()]
    phi = [torch.tensor([[0.5, 3.0]]), torch.tensor([-4.0])]
    meta = ReptileMeta(model.parameters(), "adam", lr=1e-2, betas=(0.9, 0.9999))
    meta.begin()
    set_params(model, phi)
    meta.end()

    # reference: the same Adam applied to a copy of theta whose gradient is theta - phi
    ref = [t.clone().requires_grad_(True) for t in theta]
    opt = torch.optim.Adam(ref, lr=1e-2, betas=(0.9, 0.9999))
    for r, t, f in zip(ref, theta, phi):
        r.grad = t - f
    opt.step()
    for p, r, t, f in zip(model.parameters(), ref, theta, phi):
        torch.testing.assert_close(p.detach(), r.detach(), rtol=0, atol=1e-7)
        # Adam's first moment after one step is (1 - beta1) * gradient = 0.1 (theta - phi)
        torch.testing.assert_close(meta.opt.state[p]["exp_avg"], 0.1 * (t - f))
        # Adam's first step moves each coordinate by lr towards phi
        torch.testing.assert_close((p.detach() - t).abs(), torch.full_like(t, 1e-2), rtol=1e-4, atol=0)


def test_reptile_rejects_unknown_step_and_beta_out_of_range():
    with pytest.raises(UsageError, match="interp or adam"):
        ReptileMeta(tiny_linear().parameters(), "rmsprop")
    for beta in (0.0, 1.5):
        with pytest.raises(UsageError, match="beta"):
            ReptileMeta(tiny_linear().parameters(), "interp", beta=beta)


@pytest.mark.parametrize("beta", [1e-3, 0.3, 0.5, 0.9, 1.0])
def test_interp_lands_on_the_segment_between_theta_and_phi(beta):
    """Per coordinate, new theta lies between theta and phi, at the fraction beta."""
    g = torch.Generator().manual_seed(int(beta * 1000))
    params = [nn.Parameter(torch.randn(50, 7, generator=g)), nn.Parameter(torch.randn(13, generator=g))]
    theta = [p.detach().clone() for p in params]
    meta = ReptileMeta(params, "interp", beta=beta)
    meta.begin()
    phi = [t + torch.randn(t.shape, generator=g) * 10 ** torch.empty(t.shape).uniform_(-4, 0, generator=g)
           for t in theta]
    set_params_list(params, phi)
    meta.end()
    for p, t, f in zip(params, theta, phi):
        lo, hi = torch.minimum(t, f), torch.maximum(t, f)
        assert torch.all(p >= lo) and torch.all(p <= hi)
        torch.testing.assert_close(p.detach(), t + beta * (f - t), rtol=1e-6, atol=1e-7)
        if beta == 1.0:
            assert torch.equal(p.detach(), f)           # beta = 1: theta becomes phi exactly
    assert meta.steps == 1


def set_params_list(params, values) -> None:
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v)


class TinyBNNet(nn.Module):
    """2 -> 4 linear, BatchNorm1d, 4 -> 1 linear: a model whose eval predictions read the
    BatchNorm running statistics."""

    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2 = nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x))).squeeze(1)


def test_interp_moves_batchnorm_statistics_with_the_parameters():
    from bench.methods.shared.batchnorm import bn_buffers

    torch.manual_seed(0)
    model = TinyBNNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    beta = 0.25
    meta = ReptileMeta(model.parameters(), "interp", beta=beta, buffers=bn_buffers(model))
    for _ in range(3):                                   # theta's statistics are not the init's
        model(torch.randn(8, 2) * 3 + 1).sum().backward()
        opt.step()
    theta_state = {k: v.clone() for k, v in model.state_dict().items()}
    meta.begin()
    for _ in range(4):                                   # inner loop: parameters and stats move
        opt.zero_grad()
        model((torch.randn(8, 2) - 2) * 5).pow(2).mean().backward()
        opt.step()
    phi_state = {k: v.clone() for k, v in model.state_dict().items()}
    meta.end()
    for key in ("bn.running_mean", "bn.running_var"):
        t, f = theta_state[key], phi_state[key]
        assert not torch.allclose(t, f)
        torch.testing.assert_close(model.state_dict()[key], t + beta * (f - t))
    # test predictions are those of the interpolated model, parameters AND statistics:
    # nothing left over from the inner loop
    ref = TinyBNNet()
    ref.load_state_dict({k: (theta_state[k] + beta * (phi_state[k] - theta_state[k])
                             if v.is_floating_point() else v) for k, v in phi_state.items()})
    x = torch.randn(16, 2)
    model.eval(), ref.eval()
    torch.testing.assert_close(model(x), ref(x))


def test_recomputed_statistics_do_not_depend_on_stale_ones():
    """bn_stats=recompute: after recompute_bn_stats the test predictions are the same
    whatever running statistics the model carried before."""
    from bench.methods.shared.batchnorm import recompute_bn_stats

    size = 4
    ts, _ = tiny_trainset(size)
    cfg = resolve("smoke", {"data.size": size, "data.crop": size, "data.flip": False})

    class ConvBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 2, 3, padding=1), nn.BatchNorm2d(2)

        def forward(self, x):
            return self.bn(self.conv(x)).mean(dim=(1, 2, 3))

    torch.manual_seed(0)
    preds = []
    for stale in (0.0, 50.0):
        model = ConvBN()
        with torch.no_grad():
            model.bn.running_mean.fill_(stale)
            model.bn.running_var.fill_(1 + stale)
        engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
        torch.manual_seed(1)
        model.conv.reset_parameters()
        used = recompute_bn_stats(engine, ts, batch=8)
        assert used == len(ts)
        preds.append(engine.predict(ts.bank, ts.index, 8))
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-6)


def test_meta_batch_resets_phi_per_task_and_steps_by_the_mean_delta():
    """MetaIQA's meta step: every task starts from theta; theta + beta * mean(phi_k - theta)."""
    w = nn.Parameter(torch.tensor([1.0, -1.0]))
    meta = ReptileMeta([w], "interp", beta=0.5)
    meta.begin()
    starts = []
    for phi in ([3.0, -1.0], [1.0, 3.0], [-1.0, -1.0]):
        starts.append(w.detach().clone())
        set_params_list([w], [torch.tensor(phi)])
        meta.task_done()
    assert all(torch.equal(s, torch.tensor([1.0, -1.0])) for s in starts)
    meta.end_tasks()
    # deltas [2, 0], [0, 4], [-2, 0]; mean [0, 4/3]; half of it added to theta
    torch.testing.assert_close(w.detach(), torch.tensor([1.0, -1.0 + 2.0 / 3.0]))
    assert meta.steps == 1


# --------------------------------------------------------------------------- CIS
def armed(cls, cfg, subsets, batches, opt, meta):
    """A method object in the state its ``setup`` leaves (the given subsets, batches,
    inner optimizer and meta step), for calling ``update`` directly."""
    method = cls(cfg)
    method.subsets, method.batches, method.optimizer, method.meta = subsets, batches, opt, meta
    return method


def test_serial_meta_iteration_matches_hand_computed_quadratic():
    """L_k(w) = 0.5 ||w - c_k||^2, inner SGD rate 0.5, meta SGD rate 0.5, order [2, 0, 1]."""
    w = nn.Parameter(torch.zeros(2))
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    inner = torch.optim.SGD([w], lr=0.5)
    meta = ReptileMeta([w], "interp", beta=0.5)
    visited = []

    def inner_step(k: int) -> float:
        visited.append(int(k))
        loss = 0.5 * ((w - centres[k]) ** 2).sum()
        inner.zero_grad()
        loss.backward()
        inner.step()
        return float(loss.detach())

    losses = serial_meta_iteration(meta, [2, 0, 1], inner_step)
    # by hand: [0,0] -> [1,1] (towards c2) -> [1,0.5] (c0) -> [0.5,0.75] (c1) = phi;
    # theta + 0.5 (phi - theta) = [0.25, 0.375]
    assert visited == [2, 0, 1]
    assert torch.equal(w.detach(), torch.tensor([0.25, 0.375]))
    # inner losses at the point each step started from: 0.5*8, 0.5*1, 0.5*1.25
    assert losses == [4.0, 0.5, 0.625]


class _StubEngine:
    """Stands in for Engine in CIS.iteration: records the subsets stepped on."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.steps: list[int] = []

    def step(self, opt, ts, pos, weights=None, loss_kind=None) -> float:
        self.steps.append(int(pos[0]))
        return 0.0


class _StubBatches:
    """Subset k's 'batch' is position k, so the engine stub sees which subset it got."""

    def next(self, k: int):
        return np.array([k]), np.array([1.0])


class _CountingMeta:
    """Records the order of begin/end calls relative to inner steps."""

    def __init__(self, engine: _StubEngine):
        self.engine = engine
        self.events: list[tuple[str, int]] = []

    def begin(self):
        self.events.append(("begin", len(self.engine.steps)))

    def end(self):
        self.events.append(("end", len(self.engine.steps)))


def test_cis_visits_every_subset_once_per_meta_iteration_in_fresh_orders():
    n_subsets, n_iter = 7, 12
    engine = _StubEngine(seed=3)
    ctx = FitContext(engine, None, {}, lambda e, l: None)
    meta = _CountingMeta(engine)
    method = armed(CIS, resolve("smoke"), [None] * n_subsets, _StubBatches(), None, meta)
    orders = []
    for _ in range(n_iter):
        before = len(engine.steps)
        method.update(ctx)
        orders.append(engine.steps[before:])
    for order in orders:
        assert sorted(order) == list(range(n_subsets))      # each subset exactly once
    assert len({tuple(o) for o in orders}) > 1              # shuffled each iteration
    # one meta step per iteration, wrapped around exactly n_subsets inner steps
    assert meta.events == [e for i in range(n_iter)
                           for e in (("begin", i * n_subsets), ("end", (i + 1) * n_subsets))]


# --------------------------------------------------------------------------- CIP
class TinyLinearIQA(nn.Module):
    """A linear model on the flattened image: N x 3 x s x s -> N scores."""

    def __init__(self, size: int):
        super().__init__()
        self.fc = nn.Linear(3 * size * size, 1)

    def forward(self, x):
        return self.fc(x.flatten(1)).squeeze(1)


def tiny_trainset(size: int = 4, seed: int = 0) -> tuple[TrainSet, list[Subset]]:
    """A 24-image training set (3 types x 8 refs) over a random bank, and its subsets
    with random soft content weights over 2 clusters."""
    rng = np.random.default_rng(seed)
    n = 24
    bank = ImageBank([rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)])
    types = [("d", "ABC"[k % 3]) for k in range(n)]
    refs = [("d", f"r{k // 3}") for k in range(n)]
    w_ref = {r: rng.dirichlet([1.0, 1.0]) for r in set(refs)}
    ts = TrainSet(bank, np.arange(n), rng.random(n).astype(np.float32), ["d"] * n,
                  [t for _, t in types], [1] * n, refs)
    return ts, build_subsets(types, refs, w_ref, 2)


def test_subset_batches_renormalise_eq6_weights():
    ts, subsets = tiny_trainset()
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(0))
    for k, s in enumerate(subsets):
        for _ in range(4):
            pos, w = batches.next(k)
            assert len(pos) == 3 and set(pos) <= set(s.items.tolist())
            assert w.sum() == pytest.approx(1.0)
            full = dict(zip(s.items.tolist(), s.weights))
            raw = np.array([full[p] for p in pos])
            np.testing.assert_allclose(w, raw / raw.sum())


def test_parallel_batch_holds_every_subset_and_weights_sum_to_one():
    ts, subsets = tiny_trainset()
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(1))
    for _ in range(5):
        pos, w = parallel_batch(batches, len(subsets))
        assert len(pos) == 3 * len(subsets)
        assert w.sum() == pytest.approx(1.0)
        # each subset's block carries 1/|S| of the total weight
        blocks = w.reshape(len(subsets), 3).sum(axis=1)
        np.testing.assert_allclose(blocks, np.full(len(subsets), 1.0 / len(subsets)))


@pytest.mark.parametrize("meta_lr", [1.0, 0.5])
def test_cip_inner_step_is_sgd_on_mean_subset_loss(meta_lr):
    size, lr = 4, 0.1
    torch.manual_seed(0)
    ts, subsets = tiny_trainset(size)
    cfg = resolve("smoke", {"data.size": size, "data.crop": size, "data.flip": False})
    model = TinyLinearIQA(size)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(2))
    drawn = []
    real_next = batches.next

    def spy(k):
        out = real_next(k)
        drawn.append((k, *out))
        return out

    batches.next = spy
    theta = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    meta = ReptileMeta(model.parameters(), "interp", beta=meta_lr)
    ctx = FitContext(engine, ts, cfg, lambda e, l: None)

    armed(CIP, cfg, subsets, batches, opt, meta).update(ctx)

    # explicit formula: (1/|S|) sum_s sum_{i in batch s} w_si |f(x_i) - y_i| at theta
    assert sorted(k for k, _, _ in drawn) == list(range(len(subsets)))
    wt, bias = (t.clone().requires_grad_(True) for t in theta)
    subset_losses = []
    for _, pos, w in drawn:
        x = torch.from_numpy(ts.bank.arrays[0][ts.index[pos]]).permute(0, 3, 1, 2).float() / 255
        pred = x.flatten(1) @ wt.T + bias
        y = torch.from_numpy(ts.mos[pos])
        subset_losses.append((torch.from_numpy(w).float() * (pred.squeeze(1) - y).abs()).sum())
    mean_loss = torch.stack(subset_losses).mean()
    g_w, g_b = torch.autograd.grad(mean_loss, [wt, bias])
    phi = [theta[0] - lr * g_w, theta[1] - lr * g_b]
    expected = [t + meta_lr * (f - t) for t, f in zip(theta, phi)]
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)
    assert not torch.equal(model.fc.bias.detach(), theta[1])    # it did move


def test_cis_iteration_reuses_theta_buffers_and_never_copies_the_model(monkeypatch):
    """The meta step's snapshot lives in buffers allocated once; no deep copy per subset."""
    import copy

    size = 4
    ts, subsets = tiny_trainset(size)
    cfg = resolve("smoke", {"data.size": size, "data.crop": size})
    model = TinyLinearIQA(size)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    opt = engine.adam(model.parameters(), 1e-2)
    meta = ReptileMeta(model.parameters(), "adam", lr=1e-2)
    batches = SubsetBatches(subsets, ts, lambda d: 3, engine.rng)
    ctx = FitContext(engine, ts, cfg, lambda e, l: None)
    buffers = [t.data_ptr() for t in meta.theta]
    method = armed(CIS, cfg, subsets, batches, opt, meta)

    def no_copy(*a, **k):
        raise AssertionError("a meta-iteration deep-copied something")

    monkeypatch.setattr(copy, "deepcopy", no_copy)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        losses = method.update(ctx)
        assert len(losses) == len(subsets)
    assert [t.data_ptr() for t in meta.theta] == buffers
    assert engine.images_seen == 3 * 3 * len(subsets)
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before))


# --------------------------------------------------------------------------- CIP forward pass
def _cip_after_one_update(forward: str, model: nn.Module, size: int = 4) -> list[torch.Tensor]:
    """Parameters after one CIP meta-iteration (inner SGD 0.1, beta 1) with ``forward``,
    from the same theta and the same drawn batches."""
    ts, subsets = tiny_trainset(size)
    cfg = resolve("smoke", {"data.size": size, "data.crop": size, "data.flip": False},
                  sets=[f"method.forward={forward}"], method="cip")
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    batches = SubsetBatches(subsets, ts, lambda d: 3, np.random.default_rng(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    meta = ReptileMeta(model.parameters(), "interp", beta=1.0)
    ctx = FitContext(engine, ts, cfg, lambda e, l: None)
    method = armed(CIP, cfg, subsets, batches, opt, meta)
    assert method.hp["forward"] == forward
    method.update(ctx)
    assert engine.images_seen == 3 * len(subsets)
    return [p.detach().clone() for p in model.parameters()]


def test_cip_per_subset_passes_equal_the_mixed_batch_without_batchnorm():
    """Same objective (mean over subsets of the Eq. 6 subset losses), same gradient."""
    torch.manual_seed(0)
    init = TinyLinearIQA(4).state_dict()
    got = {}
    for forward in ("mixed", "per_subset"):
        model = TinyLinearIQA(4)
        model.load_state_dict(init)
        got[forward] = _cip_after_one_update(forward, model)
    for a, b, t in zip(got["mixed"], got["per_subset"], init.values()):
        assert not torch.equal(a, t)                          # the step moved theta
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_cip_forward_passes_differ_with_batchnorm():
    """With BatchNorm in training mode each pass normalises with its own batch's
    statistics, so the two forward passes are different objectives (why it is an option)."""

    class BNLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.bn, self.out = nn.Linear(48, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)

        def forward(self, x):
            return self.out(self.bn(self.fc(x.flatten(1)))).squeeze(1)

    torch.manual_seed(0)
    init = BNLinear().state_dict()
    got = {}
    for forward in ("mixed", "per_subset"):
        model = BNLinear()
        model.load_state_dict(init)
        got[forward] = _cip_after_one_update(forward, model)
    assert any(not torch.allclose(a, b, rtol=1e-4, atol=1e-6)
               for a, b in zip(got["mixed"], got["per_subset"]))


# --------------------------------------------------------------------------- sampling
def test_weighted_sampling_draws_in_proportion_to_eq6_weights():
    """sampling=weighted: image i of a subset is drawn with probability w_i and each drawn
    image weighs 1/B, so the batch loss is an unbiased estimate of the subset loss."""
    ts, subsets = tiny_trainset()
    batches = SubsetBatches(subsets, ts, lambda d: 4, np.random.default_rng(0), "weighted")
    s = subsets[0]
    counts = dict.fromkeys(s.items.tolist(), 0)
    loss = np.random.default_rng(1).random(len(ts))             # a fixed per-image loss
    estimates = []
    for _ in range(4000):
        pos, w = batches.next(0)
        np.testing.assert_allclose(w, 0.25)
        for p in pos:
            counts[int(p)] += 1
        estimates.append(float((w * loss[pos]).sum()))
    freq = np.array([counts[i] for i in s.items.tolist()]) / (4 * 4000)
    np.testing.assert_allclose(freq, s.weights, atol=0.02)
    exact = float((s.weights * loss[s.items]).sum())
    assert abs(np.mean(estimates) - exact) < 4 * np.std(estimates) / np.sqrt(len(estimates))


def test_unknown_sampling_rule_is_a_usage_error():
    ts, subsets = tiny_trainset()
    with pytest.raises(UsageError, match="method.sampling"):
        SubsetBatches(subsets, ts, lambda d: 4, np.random.default_rng(0), "stratified")


# --------------------------------------------------------------------------- bn_batch=global
class _ConvBNDrop(nn.Module):
    """conv -> BatchNorm2d -> dropout -> mean: a BatchNorm layer beside a layer whose
    training mode must survive bn_normalise_with_running."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.drop = nn.Conv2d(3, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.bn(self.conv(x))).mean(dim=(1, 2, 3))


def test_refresh_sets_the_statistics_of_one_mixed_batch_and_restores_the_layer():
    """bn_batch=global: refresh_bn_stats puts the plain (momentum 1) batch statistics of
    one uniform training batch into the running buffers, whatever they held, and leaves
    momentum and mode as they were."""
    from bench.methods.shared.batchnorm import refresh_bn_stats

    ts, _ = tiny_trainset(4)
    cfg = resolve("smoke", {"data.size": 4, "data.crop": 4, "data.flip": False})
    torch.manual_seed(0)
    model = _ConvBNDrop()
    with torch.no_grad():
        model.bn.running_mean.fill_(50.0)
        model.bn.running_var.fill_(9.0)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(3))
    model.eval()
    assert refresh_bn_stats(engine, ts, batch=10) == 10
    # the same draw, by hand: positions from a generator in the same state
    pos = np.sort(np.random.default_rng(3).choice(len(ts), size=10, replace=False))
    x, _ = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0)).batch(ts, pos)
    with torch.no_grad():
        act = model.conv(x)
    torch.testing.assert_close(model.bn.running_mean, act.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(model.bn.running_var, act.var(dim=(0, 2, 3), unbiased=True))
    assert model.bn.momentum == 0.1 and not model.bn.training


def test_inner_steps_under_global_normalise_with_running_statistics():
    """Inside bn_normalise_with_running a training-mode forward normalises with the running
    statistics (the batch's own statistics do not matter) and leaves them unchanged, the
    dropout stays in training mode, and every mode is restored on exit."""
    from bench.methods.shared.batchnorm import bn_normalise_with_running

    torch.manual_seed(0)
    model = _ConvBNDrop().train()
    model.drop.p = 0.0
    with torch.no_grad():
        model.bn.running_mean.copy_(torch.tensor([0.3, -0.2]))
        model.bn.running_var.copy_(torch.tensor([2.0, 0.5]))
    x = torch.rand(6, 3, 4, 4)
    with bn_normalise_with_running(model):
        assert model.training and model.drop.training and not model.bn.training
        together = model(x)
        one_by_one = torch.cat([model(x[i:i + 1]) for i in range(6)])
        torch.testing.assert_close(together, one_by_one)      # no batch statistics involved
        torch.testing.assert_close(model.bn.running_mean, torch.tensor([0.3, -0.2]))
    assert model.bn.training
    model.eval()
    torch.testing.assert_close(together, model(x))
