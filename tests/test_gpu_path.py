"""The GPU path's pieces that a CPU can check (issue 20): the fused meta step gives the
same bits as the per-tensor one, the device resize stays within its stated distance of
PIL's, the CPU resize view is still PIL's."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.data.bank import resize_images
from bench.data.device_bank import DeviceBank, resize_on_device
from bench.methods.shared.reptile import ReptileMeta


def _model_tensors(seed: int):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in ((7, 3), (5,), (2, 3, 3, 3))]
    buffers = [torch.rand(5, generator=g), torch.rand(5, generator=g) + 0.5]
    return params, buffers


def test_fused_interp_meta_step_is_bit_identical_to_one_lerp_per_tensor():
    for beta in (1.0, 0.5, 0.3, 1e-3):
        params, buffers = _model_tensors(0)
        meta = ReptileMeta(params, "interp", beta, buffers=buffers)
        meta.begin()
        theta = [t.detach().clone() for t in params + buffers]
        with torch.no_grad():
            for k, t in enumerate(params + buffers):
                t.add_(torch.randn(t.shape, generator=torch.Generator().manual_seed(k)) * 0.1)
        phi = [t.detach().clone() for t in params + buffers]
        meta.end()
        for got, a, b in zip(params + buffers, theta, phi):
            assert torch.equal(got.detach(), torch.lerp(a, b, beta)), beta
        assert meta.steps == 1


def test_adam_meta_reading_feeds_theta_minus_phi():
    params, _ = _model_tensors(1)
    twin = [torch.nn.Parameter(p.detach().clone()) for p in params]
    meta = ReptileMeta(params, "adam", lr=1e-2, betas=(0.9, 0.9999))
    ref = torch.optim.Adam(twin, lr=1e-2, betas=(0.9, 0.9999), foreach=True)
    meta.begin()
    with torch.no_grad():
        for p in params:
            p.add_(0.05)
    meta.end()
    for p in twin:
        p.grad = torch.full_like(p, -0.05)
    ref.step()
    for p, q in zip(params, twin):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=0, atol=1e-7)
        assert p.grad is None


def _images(n: int, side: int, seed: int) -> np.ndarray:
    """Smooth images with noise (like photographs, not pure noise), uint8."""
    rng = np.random.default_rng(seed)
    base = torch.from_numpy(rng.integers(0, 256, (n, 3, side // 8, side // 8)).astype(np.float32))
    img = F.interpolate(base, size=(side, side), mode="bilinear").permute(0, 2, 3, 1).numpy()
    return np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)


def test_device_resize_is_within_two_levels_of_pil():
    """The stated tolerance: shrinking (every profile's resize view: 96 -> 64, 256 -> 224)
    at most 1 grey level from PIL and under 1% of values off; enlarging at most 2 and
    under 5% off."""
    for size, side, most, share in ((96, 64, 1, 0.01), (256, 224, 1, 0.01), (40, 32, 1, 0.01),
                                    (64, 96, 2, 0.05)):
        img = _images(3, size, size)
        want = resize_images(img, side)
        got = resize_on_device(torch.from_numpy(img), side).numpy()
        diff = np.abs(got.astype(int) - want.astype(int))
        assert got.shape == want.shape and got.dtype == np.uint8
        assert diff.max() <= most and (diff > 0).mean() < share, (size, side, diff.max())
    same = _images(2, 32, 1)
    assert np.array_equal(resize_on_device(torch.from_numpy(same), 32).numpy(), same)


def test_cpu_device_bank_keeps_the_pil_resize():
    from bench.data.bank import ImageBank

    img = _images(4, 48, 2)
    bank = ImageBank([img])
    got = DeviceBank(bank, "cpu").resized_images(np.arange(4), 32).numpy()
    assert np.array_equal(got, resize_images(img, 32))


def test_run_scope_sets_cublas_workspace_only_when_unset(monkeypatch):
    import os
    import warnings

    from bench.core.scope import determinism_facts, run_scope

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with run_scope(deterministic=True):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert determinism_facts(torch.device("cuda"), True)["bitwise"]
        warnings.warn("adaptive_avg_pool2d_backward_cuda does not have a deterministic "
                      "implementation, but you set 'torch.use_deterministic_algorithms(True, "
                      "warn_only=True)'.")
        facts = determinism_facts(torch.device("cuda"), True)
        assert facts["nondeterministic_ops"] == ["adaptive_avg_pool2d_backward_cuda"]
        assert not facts["bitwise"]
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with run_scope(deterministic=False):
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
        assert not determinism_facts(torch.device("cpu"), False)["bitwise"]
        assert determinism_facts(torch.device("cuda"), True)["bitwise"] is False  # no cuBLAS setting
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with run_scope(deterministic=True):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"                # kept
        assert determinism_facts(torch.device("cpu"), True)["bitwise"]
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_deterministic_pooling_replaces_adaptive_pool_with_the_same_mean():
    import copy

    from bench.engine.models import GlobalMeanPool, deterministic_pooling

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.AdaptiveAvgPool2d((2, 2)), torch.nn.Flatten())
    twin = copy.deepcopy(net)
    assert deterministic_pooling(twin) == 1
    assert isinstance(twin[1], GlobalMeanPool) and isinstance(twin[2], torch.nn.AdaptiveAvgPool2d)
    x = torch.rand(2, 3, 9, 9)
    torch.testing.assert_close(twin(x), net(x), rtol=1e-6, atol=1e-7)


def test_run_jobs_on_one_gpu_fit_the_free_memory():
    from bench.app.gpu_jobs import fold_bytes, jobs_that_fit, largest_batch, pack_on_gpu
    from bench.core.config import resolve

    cfg = resolve("paper", {"device": "cpu"}, method="cis")
    assert largest_batch(cfg) == 102                       # the KADID-10k subset batch
    per = fold_bytes(cfg, 2 * 2**30, 13_000_000)
    assert 5 * 2**30 < per < 8 * 2**30
    assert fold_bytes(cfg, 2 * 2**30, 13_000_000, on_device=False) < per - 2**30
    off = resolve("paper", {"device": "cpu", "engine.amp": "off"}, method="cis")
    assert fold_bytes(off, 0, 13_000_000) > fold_bytes(cfg, 0, 13_000_000)
    assert jobs_that_fit(4, per, 139 * 2**30) == 4
    assert jobs_that_fit(4, per, 2 * per + 1) == 2
    assert jobs_that_fit(4, per, per // 2) == 1           # one fold always runs
    lines = []
    got = pack_on_gpu(cfg, 8, 2 * 2**30, lines.append, free=lambda d: 3 * per, n_params=13_000_000)
    assert got == 3 and "--jobs 8 lowered to 3" in lines[0]
    assert pack_on_gpu(cfg, 1, 0, lines.append, free=lambda d: 0) == 1 and len(lines) == 1


@pytest.mark.slow
def test_speed_aggregates_fold_processes_sharing_the_device():
    import pytest

    from bench.app.speed_folds import aggregate, parse_counts
    from bench.core.config import resolve
    from bench.core.errors import UsageError

    assert parse_counts("1,2,4") == [1, 2, 4]
    for bad in ("0", "a", "", "1,100"):
        with pytest.raises(UsageError):
            parse_counts(bad)
    cfg = resolve("smoke", {"device": "cpu"}, method="erm")
    got = aggregate(cfg, [1, 2], 0.5, "random", "syn-kadid")
    assert set(got) == {"1", "2"}
    for n, f in got.items():
        assert f["img_s"] > 0 and f["seconds"] >= 0.5
        assert f["per_fold_img_s"] == pytest.approx(f["img_s"] / int(n))


@pytest.mark.slow
def test_compiled_meta_iterations_do_not_recompile():
    """torch.compile (eager backend: no compiler needed): CIS with bn_batch=global toggles
    BatchNorm modes and momentum every meta-iteration; after the first one every state has
    its graph and nothing compiles again."""
    from torch._dynamo.utils import counters

    from bench.app import speed_data
    from bench.core.config import resolve
    from bench.core.registry import METHODS
    from bench.engine.engine import Engine
    from bench.engine.loop import FitContext
    from bench.engine.models import build_model

    torch._dynamo.reset()
    counters.clear()
    cfg = resolve("smoke", {"engine.compile": "eager"}, ["method.bn_batch=global"], method="cis")
    sd = speed_data.standin_data(cfg, types=3, levels=2, refs=4)
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    e = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    method = METHODS.get("cis")(cfg)
    ctx = FitContext(e, sd.train, cfg, lambda a, b: None, log=lambda s: None)
    method.setup(ctx)
    method.update(ctx)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1
    for _ in range(3):
        method.update(ctx)
    assert counters["stats"]["unique_graphs"] == graphs
    torch._dynamo.reset()
