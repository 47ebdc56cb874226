"""The fast training path (issue 6) on the CPU: what can run here runs here.

* Device-resident crops: the device bank's gather (torch indexing, run on CPU tensors)
  cuts byte-identical crops to ImageBank's numpy path for the same random draws, and an
  engine gives identical batches with either placement.
* The OpenCV mirror and the numpy fallback give the same bytes as ``src[:, ::-1]``.
* Placement choice, the GPU-room estimate (mem_get_info faked), the pinned ring's slot
  logic, the autocast scope (backbone in bf16, head in fp32), the amp/Adam choices.
* Numerics: ERM and CIS trained on a tiny in-memory set with everything that applies on a
  CPU switched on (channels-last, fused Adam, crops cut by the device bank's gather) give
  the plain path's SROCC within 1e-4.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.data.bank as bank_mod
from bench.core.config import config_hash, resolve
from bench.data.bank import ImageBank, draw_crops
from bench.data.device_bank import (DeviceBank, HostStager, choose_placement, fits_on_device,
                                    gather_crops, release_device_banks)
from bench.methods.shared.division import build_subsets
from bench.core.errors import UsageError
from bench.core.metrics import all_metrics
from bench.engine.models import build_model
from bench.core.registry import METHODS
from bench.engine.loop import FitContext
from bench.engine.engine import AmpForward, Engine, TrainSet, resolve_amp

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny models run faster so on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    release_device_banks()


def two_array_bank(seed: int = 0, size: int = 20) -> ImageBank:
    """A bank of two arrays (7 and 5 images), so global indices cross an array boundary."""
    rng = np.random.default_rng(seed)
    return ImageBank([rng.integers(0, 256, (7, size, size, 3), dtype=np.uint8),
                      rng.integers(0, 256, (5, size, size, 3), dtype=np.uint8)])


# --------------------------------------------------------------------------- crops
@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("crop", [12, 20])
def test_device_bank_cuts_the_same_crops_as_the_host_bank(flip, crop):
    bank = two_array_bank()
    dev = DeviceBank(bank, CPU)
    idx = np.array([0, 6, 7, 11, 3, 3, 9, 1, 10, 5, 8, 2])
    for seed in range(4):
        host = bank.random_crops(idx, crop, np.random.default_rng(seed), flip)
        got = dev.random_crops(idx, crop, np.random.default_rng(seed), flip)
        assert got.dtype == torch.uint8 and tuple(got.shape) == (len(idx), crop, crop, 3)
        np.testing.assert_array_equal(got.numpy(), host)
    np.testing.assert_array_equal(dev.center_crops(idx, crop).numpy(), bank.center_crops(idx, crop))


def test_gather_matches_slicing_for_given_corners_and_flips():
    bank = two_array_bank(1)
    images = torch.from_numpy(np.concatenate(bank.arrays))
    idx, ys, xs = np.array([2, 9, 4, 4]), np.array([0, 8, 3, 5]), np.array([8, 0, 1, 8])
    flips = np.array([True, False, True, False])
    got = gather_crops(images, *(torch.from_numpy(a) for a in (idx, ys, xs)), torch.from_numpy(flips), 12)
    for k in range(4):
        ref = bank.image(idx[k])[ys[k]:ys[k] + 12, xs[k]:xs[k] + 12]
        np.testing.assert_array_equal(got[k].numpy(), ref[:, ::-1] if flips[k] else ref)


def test_draws_come_from_the_generator_in_a_fixed_order():
    a = draw_crops(6, 20, 12, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    ys, xs, fl = rng.integers(0, 9, 6), rng.integers(0, 9, 6), rng.random(6) < 0.5
    for got, want in zip(a, (ys, xs, fl)):
        np.testing.assert_array_equal(got, want)
    assert not draw_crops(6, 20, 12, np.random.default_rng(3), flip=False)[2].any()


def test_mirror_paths_give_the_bytes_of_a_reversed_view(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    arr = rng.integers(0, 256, (3, 30, 30, 3), dtype=np.uint8)
    path = tmp_path / "a.u8"
    arr.tofile(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=arr.shape)  # read-only, as the cache
    src = mm[1, 4:20, 7:23]
    want = np.ascontiguousarray(src[:, ::-1])
    for mirror in (bank_mod._mirror(), bank_mod._mirror_numpy):
        dst = np.zeros((16, 16, 3), np.uint8)
        mirror(src, dst)
        np.testing.assert_array_equal(dst, want)
    idx = np.array([0, 2, 1, 1, 0])
    fast = ImageBank([mm]).random_crops(idx, 16, np.random.default_rng(5))
    monkeypatch.setattr(bank_mod, "_MIRROR", bank_mod._mirror_numpy)
    slow = ImageBank([mm]).random_crops(idx, 16, np.random.default_rng(5))
    np.testing.assert_array_equal(fast, slow)


# --------------------------------------------------------------------------- placement
def test_placement_choice(monkeypatch):
    bank = two_array_bank()
    assert choose_placement("auto", bank, "cpu") == "host"
    assert choose_placement("device", bank, "cpu") == "device"
    assert choose_placement("host", bank, "cuda") == "host"
    with pytest.raises(UsageError, match="placement"):
        choose_placement("gpu", bank, "cpu")
    assert not fits_on_device(10, "cpu")
    gib = 1 << 30
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (30 * gib, 80 * gib))
    # reserve: max(4 GiB, 25% of 80 GiB) = 20 GiB; 30 - 20 = 10 GiB of room
    assert fits_on_device(10 * gib, "cuda")
    assert not fits_on_device(10 * gib + 1, "cuda")
    assert choose_placement("auto", bank, "cuda") == "device"
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (gib, 8 * gib))
    assert choose_placement("auto", bank, "cuda") == "host"


def test_device_bank_is_shared_per_bank_and_device():
    bank = two_array_bank()
    a = DeviceBank.of(bank, CPU)
    assert DeviceBank.of(bank, "cpu") is a
    assert DeviceBank.of(two_array_bank(), CPU) is not a
    assert a.nbytes == sum(x.nbytes for x in bank.arrays)


def test_host_stager_ring_alternates_and_grows():
    st = HostStager(CPU, slots=2)
    k0, b0 = st._buffer((2, 4, 4, 3))
    k1, b1 = st._buffer((2, 4, 4, 3))
    k2, b2 = st._buffer((1, 4, 4, 3))
    assert (k0, k1, k2) == (0, 1, 0)
    assert b0.data_ptr() != b1.data_ptr() and b2.data_ptr() == b0.data_ptr()
    _, b3 = st._buffer((8, 4, 4, 3))         # larger than slot 1: reallocated
    assert tuple(b3.shape) == (8, 4, 4, 3) and st._bufs[1].numel() == 8 * 48
    bank = two_array_bank()
    idx = np.array([1, 8, 4])
    got = st.random_crops(bank, idx, 12, np.random.default_rng(0))
    np.testing.assert_array_equal(got.numpy(), bank.random_crops(idx, 12, np.random.default_rng(0)))


# --------------------------------------------------------------------------- engine options
def test_amp_choice(monkeypatch):
    assert resolve_amp("auto", CPU) is None
    assert resolve_amp("off", torch.device("cuda")) is None
    assert resolve_amp("bf16", CPU) is torch.bfloat16
    with pytest.raises(UsageError, match="engine.amp"):     # refused where it is set
        resolve("smoke", {"engine.amp": "fp8"})
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_amp("auto", torch.device("cuda")) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_amp("auto", torch.device("cuda")) is None
    with pytest.raises(UsageError, match="bfloat16"):
        resolve_amp("bf16", torch.device("cuda"))


def test_autocast_covers_the_backbone_only():
    cfg = resolve("smoke")
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    model.eval()
    seen = {}
    model.backbone.features[0].register_forward_hook(lambda m, i, o: seen.__setitem__("conv", o.dtype))
    model.head[0].register_forward_hook(lambda m, i, o: seen.__setitem__("head_in", i[0].dtype))
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        plain = model(x)
        assert seen == {"conv": torch.float32, "head_in": torch.float32}
        fast = AmpForward(model, torch.bfloat16)(x)
    assert seen == {"conv": torch.bfloat16, "head_in": torch.float32}
    assert fast.dtype == torch.float32
    torch.testing.assert_close(fast, plain, atol=2e-2, rtol=0)
    with torch.no_grad():
        assert torch.equal(AmpForward(model, None)(x), plain)


def test_engine_options_and_adam_implementation():
    cfg = resolve("smoke")
    e = Engine(cfg, build_model(cfg["model"], lambda m: None)[0], CPU, np.random.default_rng(0))
    assert not e.channels_last and not e.fused and e.amp_dtype is None
    assert e.adam(e.model.parameters(), 1e-3).defaults["foreach"]
    cfg = resolve("smoke", {"engine.fused": True, "engine.channels_last": True})
    e = Engine(cfg, build_model(cfg["model"], lambda m: None)[0], CPU, np.random.default_rng(0))
    assert e.adam(e.model.parameters(), 1e-3).defaults["fused"] and e.channels_last
    conv = e.model.backbone.features[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(UsageError):
        Engine(resolve("smoke", {"engine.fused": "yes"}), e.model, CPU, np.random.default_rng(0))


def test_how_keys_stay_out_of_the_run_hash_but_amp_does_not():
    base = config_hash(resolve("smoke"))
    for key, value in (("engine.compile", True), ("engine.channels_last", False),
                       ("engine.fused", True), ("data.placement", "device")):
        assert config_hash(resolve("smoke", {key: value})) == base, key
    assert config_hash(resolve("smoke", {"engine.amp": "bf16"})) != base
    assert config_hash(resolve("smoke", {"engine.amp": "off"})) != base


# --------------------------------------------------------------------------- numerics
TYPES, LEVELS, REFS = ("A", "B", "C"), (1, 2, 3), 6


def tiny_set(size: int = 40) -> tuple[TrainSet, np.ndarray, np.ndarray, list]:
    """Images whose quality is their noise level (MOS falls with it), 3 types x 3 levels x
    6 references; returns (training set, test indices, test MOS, subsets)."""
    rng = np.random.default_rng(0)
    imgs, mos, types, levels, refs = [], [], [], [], []
    for r in range(REFS):
        base = rng.integers(40, 216, size=(1, 1, 3)) + rng.normal(0, 20, (size, size, 3))
        for t_i, t in enumerate(TYPES):
            for lv in LEVELS:
                amount = 10 * lv * (1 + t_i)
                imgs.append(np.clip(base + rng.normal(0, amount, (size, size, 3)), 0, 255).astype(np.uint8))
                mos.append(1.0 - amount / 100.0)
                types.append(t), levels.append(lv), refs.append(("tiny", r))
    n = len(imgs)
    bank = ImageBank([np.stack(imgs)])
    ts = TrainSet(bank, np.arange(n), np.asarray(mos, np.float32), ["tiny"] * n, types, levels, refs)
    w = {("tiny", r): np.array([0.8, 0.2]) if r % 2 else np.array([0.3, 0.7]) for r in range(REFS)}
    subsets = build_subsets(ts.type_keys(), refs, w, 2)
    return ts, np.arange(n), np.asarray(mos), subsets


def train_and_score(method: str, engine_over: dict, placement: str, **over) -> tuple[dict, np.ndarray]:
    """Fit ``method`` on the tiny set (smoke profile, ``over`` dotted overrides) and score
    its predictions of every image; (metrics, predictions)."""
    over = {"device": "cpu", "data.placement": placement,
            **{f"engine.{k}": v for k, v in engine_over.items()}, **over}
    cfg = resolve("smoke", over, method=method)
    ts, test_idx, test_mos, subsets = tiny_set(cfg["data"]["size"])
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    engine = Engine(cfg, model, CPU, np.random.default_rng(0))
    obj = METHODS.get(method)(cfg)
    obj.divide = lambda ctx: (subsets, None)     # the tiny set's fixed soft clusters
    obj.fit(FitContext(engine, ts, cfg, lambda e, l: None))
    pred = engine.predict(ts.bank, test_idx, 16)
    assert engine.placement_of(ts.bank) == placement
    return all_metrics(pred, test_mos), pred


PLAIN = {"amp": "off", "channels_last": False, "fused": False, "compile": False}
FAST_ON_CPU = {"amp": "off", "channels_last": True, "fused": True, "compile": False}
LONGER = {"train.epochs": 4, "train.iterations_per_epoch": 4}   # smoke, long enough to learn


def test_cpu_defaults_are_the_plain_path():
    cfg = resolve("smoke")
    e = Engine(cfg, build_model(cfg["model"], lambda m: None)[0], CPU, np.random.default_rng(0))
    assert (e.amp_dtype, e.channels_last, e.fused, e.compiled) == (None, False, False, False)
    assert e.placement_of(tiny_set(8)[0].bank) == "host"


def test_fast_path_metrics_equal_plain_path_erm():
    """ERM with everything that applies on a CPU (channels-last, fused Adam, crops cut by
    the device bank's gather) against the plain path: predictions within 2e-3, so SROCC
    within a rank swap or two (5e-3) and PLCC within 1e-3. Channels-last and fused Adam
    change the summation order, so the two paths are equal to rounding, not bit for bit;
    with the equal image budget (more steps on this tiny set) a near-tie can swap."""
    plain, p_pred = train_and_score("erm", PLAIN, "host", **LONGER)
    fast, f_pred = train_and_score("erm", FAST_ON_CPU, "device", **LONGER)
    assert plain["srocc"] > 0.5                                   # it learned something
    np.testing.assert_allclose(f_pred, p_pred, atol=2e-3)
    assert abs(fast["srocc"] - plain["srocc"]) <= 5e-3
    assert abs(fast["plcc"] - plain["plcc"]) <= 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("method", ["cis", "cip", "metaiqa"])
def test_device_side_crops_train_meta_methods_to_the_same_bits(method):
    """The subset methods with crops cut by the device bank: the same model to the bit.

    (Channels-last and fused Adam are compared step by step below, not over a whole CIS
    fit: the meta Adam (lr 1e-2) is fed theta - phi, and for parameters without gradient
    (a Linear bias before BatchNorm) that difference is rounding noise, which Adam's first
    step turns into +-lr. Any change of rounding -- memory format, Adam kernel, CPU vs GPU
    -- so gives a different CIS run: eval predictions of the smoke model move by 1e-3 after
    one meta-iteration and by 1e-1 after four, and SROCC by up to 0.1.)"""
    plain, p_pred = train_and_score(method, PLAIN, "host")
    dev, d_pred = train_and_score(method, PLAIN, "device")
    np.testing.assert_array_equal(d_pred, p_pred)
    assert dev["srocc"] == plain["srocc"]


def one_step(engine_over: dict, placement: str = "host"):
    """Loss, gradients and updated parameters of one Engine.step of the smoke model."""
    cfg = resolve("smoke", {"data.placement": placement, **{f"engine.{k}": v for k, v in engine_over.items()}})
    ts, *_ = tiny_set(cfg["data"]["size"])
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    engine = Engine(cfg, model, CPU, np.random.default_rng(0))
    opt = engine.adam(engine.model.parameters(), 1e-3)
    grads = {}
    for name, p in engine.model.named_parameters():
        p.register_hook(lambda g, name=name: grads.__setitem__(name, g.detach().clone()))
    loss = engine.step(opt, ts, np.arange(16))
    params = {n: p.detach().clone() for n, p in engine.model.named_parameters()}
    return loss, grads, params


def test_one_step_agrees_across_memory_format_and_adam_kernel():
    loss0, g0, p0 = one_step(PLAIN)
    for over in ({**PLAIN, "channels_last": True}, {**PLAIN, "fused": True}, FAST_ON_CPU):
        loss, g, p = one_step(over, "device")
        assert abs(loss - loss0) <= 1e-6
        for name in g0:
            scale = float(g0[name].abs().max())
            if scale < 1e-6:
                continue  # no gradient (bias before BatchNorm): only rounding noise there
            torch.testing.assert_close(g[name], g0[name], atol=1e-4 * scale, rtol=0)
            # where the gradient is not noise, Adam's first step is the same +-lr
            big = g0[name].abs() > 1e-3 * scale
            torch.testing.assert_close(p[name][big], p0[name][big], atol=1e-6, rtol=0)


def test_engine_batches_identical_across_placements():
    cfg = resolve("smoke", {"data.placement": "host"})
    ts, *_ = tiny_set(cfg["data"]["size"])
    model, _ = build_model(cfg["model"], lambda m: None)
    host = Engine(cfg, model, CPU, np.random.default_rng(7))
    cfg_d = resolve("smoke", {"data.placement": "device", "engine.channels_last": True})
    dev = Engine(cfg_d, model, CPU, np.random.default_rng(7))
    for pos in (np.arange(16), np.array([5, 1, 40, 33])):
        (xh, yh), (xd, yd) = host.batch(ts, pos), dev.batch(ts, pos)
        assert torch.equal(xh, xd) and torch.equal(yh, yd)
        assert xh.is_contiguous() and xd.is_contiguous(memory_format=torch.channels_last)
        assert xh.dtype == torch.float32 and 0 <= float(xh.min()) and float(xh.max()) <= 1
    assert dev.describe()["placement"] == "device" and host.describe()["placement"] == "host"
