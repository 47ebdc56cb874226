"""The deep NR baselines (methods/deep): each one's pooling / hyper-network / bilinear piece
against a direct computation on a toy input; each lowers its training loss on a tiny fit;
each runs end to end through the CLI (smoke profile, one LODO fold of the tiny on-disk
release) with the same images_seen as ERM; DBCNN's S-CNN classes come from the fold's
type and level labels, and a set without them is a clear error."""
from __future__ import annotations

import json

import numpy as np
import pytest
import test_run
import torch
from test_run import NAME, load_release, run_cli, run_folders

from bench.engine import session as plan
from bench.cli import main
from bench.core.config import resolve
from bench.data.registry import DATASETS, DatasetSpec
from bench.core.errors import BenchError
from bench.engine.loop import FitContext
from bench.engine.method import build_network
from bench.core.registry import METHODS
from bench.engine.engine import Engine
from bench.methods.deep.dbcnn import bilinear_pool, distortion_classes
from bench.methods.deep.hyperiqa import HyperIQANet, target_forward
from bench.methods.deep.wadiqam import (
    WaDIQaMNet,
    grid_patches,
    grid_starts,
    random_patches,
    weighted_pool,
)

release = test_run.release   # the tiny on-disk release fixture
DEEP = ("wadiqam", "hyperiqa", "dbcnn")


# ---------------------------------------------------------------- pieces on toy inputs
def test_weighted_pool_is_the_weighted_mean_of_patch_scores():
    q = torch.tensor([[1.0, 2.0, 4.0], [0.5, 0.5, 3.0]])
    w = torch.tensor([[1.0, 0.0, 1.0], [2.0, 1.0, 1.0]])
    expect = [(1 * 1 + 4 * 1) / 2, (0.5 * 2 + 0.5 + 3) / 4]
    assert torch.allclose(weighted_pool(q, w), torch.tensor(expect))


@pytest.mark.slow
def test_wadiqam_score_is_the_weighted_average_of_its_grid_patches():
    torch.manual_seed(0)
    net = WaDIQaMNet(width=2, patch=32, train_patches=3).eval()
    x = torch.rand(2, 3, 48, 40)
    assert grid_starts(48, 32) == [0, 16] and grid_starts(64, 32) == [0, 32]
    patches = grid_patches(x, 32)
    assert patches.shape == (2, 4, 3, 32, 32)
    assert torch.equal(patches[1, 3], x[1, :, 16:48, 8:40])       # last row and column at the edge
    with torch.no_grad():
        got = net(x)
        direct = []
        for n in range(2):
            qs, ws = [], []
            for r in (0, 16):
                for c in (0, 8):
                    h = net.features(net.normalize(x[n:n + 1, :, r:r + 32, c:c + 32])).flatten(1)
                    qs.append(float(net.quality(h)))
                    ws.append(float(net.weight(h)) + 1e-8)
            direct.append(np.dot(qs, ws) / np.sum(ws))
    assert np.allclose(got.numpy(), direct, atol=1e-5)


def test_random_patches_are_windows_of_their_own_image():
    torch.manual_seed(3)
    x = torch.rand(3, 2, 40, 36)
    got = random_patches(x, 5, 32)
    assert got.shape == (3, 5, 2, 32, 32)
    for n in range(3):
        for k in range(5):
            # find the window's offset from its corner pixel, then compare the whole window
            r, c = [int(v) for v in torch.nonzero(x[n, 0] == got[n, k, 0, 0, 0])[0]]
            assert torch.equal(got[n, k], x[n, :, r:r + 32, c:c + 32])


def test_hyperiqa_target_network_matches_a_per_image_computation():
    torch.manual_seed(1)
    dims = [6, 4, 3, 2, 2]
    vec = torch.randn(2, 6)
    ws = [torch.randn(2, b, a) for a, b in zip(dims[:-1], dims[1:])] + [torch.randn(2, 1, 2)]
    bs = [torch.randn(2, b) for b in dims[1:]] + [torch.randn(2, 1)]
    got = target_forward(vec, ws, bs)
    for n in range(2):
        h = vec[n].numpy().astype(np.float64)
        for i in range(4):
            h = 1 / (1 + np.exp(-(ws[i][n].numpy() @ h + bs[i][n].numpy())))
        out = ws[4][n].numpy() @ h + bs[4][n].numpy()
        assert np.isclose(float(got[n]), float(out[0]), atol=1e-5)


def test_hyperiqa_weights_depend_on_the_image_content():
    """The hyper network gives each image its own target weights (not shared parameters)."""
    cfg = resolve("smoke", {"device": "cpu"}, method="hyperiqa")
    net, _ = build_network(METHODS.get("hyperiqa"), cfg, lambda m: None)
    assert isinstance(net, HyperIQANet)
    net.eval()
    with torch.no_grad():
        maps = net.stages(net.normalize(torch.rand(2, 3, 32, 32)))
        weights, _ = net.target_params(maps[3])
    dims = cfg["method_settings"]["target_dims"]
    assert [tuple(w.shape) for w in weights] == (
        [(2, b, a) for a, b in zip(dims[:-1], dims[1:])] + [(2, 1, dims[-1])])
    assert not torch.allclose(weights[0][0], weights[0][1])


def test_bilinear_pool_matches_the_outer_products_averaged_over_positions():
    torch.manual_seed(2)
    a, b = torch.rand(2, 3, 2, 2), torch.randn(2, 4, 2, 2)
    got = bilinear_pool(a, b, eps=0.0)
    for n in range(2):
        z = sum(np.outer(a[n, :, i, j].numpy(), b[n, :, i, j].numpy())
                for i in range(2) for j in range(2)) / 4
        z = np.sign(z) * np.sqrt(np.abs(z))
        z = z.flatten() / np.linalg.norm(z)
        assert np.allclose(got[n].numpy(), z, atol=1e-5)


# ---------------------------------------------------------------- training on the fold
def _session(release_root, method: str, profile: str = "smoke", **settings):
    cfg = resolve(profile, {"device": "cpu"}, method=method)
    cfg["data"]["paths"] = {NAME: str(release_root)}
    cfg["method_settings"].update(settings)
    cfg["protocol"] = {"name": "lodo", "dataset": NAME}
    session = plan.prepare(cfg, log=lambda m: None)
    return cfg, session, plan.train_set_from(session, session.folds[0].method_parts())


def _fit(release_root, method: str, epochs: int, **settings):
    """Fit ``method`` on fold A of the tiny release for ``epochs`` epochs of the whole
    training set (smoke profile otherwise); (method object, per-epoch losses)."""
    cfg, session, ts = _session(release_root, method, **settings)
    cfg["train"].update(epochs=epochs, iterations_per_epoch=None, batch_size=8)
    torch.manual_seed(0)
    model, _ = build_network(session.method_cls, cfg, lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    obj = session.method_cls(cfg)
    losses = obj.fit(FitContext(engine, ts, cfg, lambda e, loss: None, log=lambda m: None))
    return obj, losses


@pytest.mark.parametrize("method,settings", [
    ("wadiqam", {"lr": 3e-3}),
    ("hyperiqa", {"lr": 3e-3}),
    ("dbcnn", {"scnn_epochs": 0, "head_epochs": 0, "finetune_lr": 3e-3}),
])
def test_training_loss_falls(release, method, settings):
    _, losses = _fit(release, method, epochs=8, **settings)
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2]), losses


def test_dbcnn_scnn_learns_the_folds_distortion_classes(release):
    obj, losses = _fit(release, "dbcnn", epochs=24, scnn_epochs=24, head_epochs=0,
                       scnn_lr=0.05)
    # fold A holds out type A: the classes are types B, C x levels 1, 2 of the release
    assert obj.classes == [(NAME, t, lv) for t in ("B", "C") for lv in (1, 2)]
    assert obj.seen.images[0] > 0 and obj.seen.images[1] == obj.seen.images[2] == 0
    # the cross-entropy of the 4 classes falls
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_dbcnn_resumed_fit_ends_where_an_uninterrupted_one_does(release, tmp_path):
    """Its checkpoint keeps the S-CNN classifier (outside the network), the three
    optimizers, both samplers and the phase counts: a fit resumed from the checkpoint of
    epoch 2 of 3 (still in the S-CNN phase) ends at the same weights."""
    cfg, session, ts = _session(release, "dbcnn", scnn_epochs=3, head_epochs=0)
    cfg["train"].update(epochs=3, iterations_per_epoch=None, batch_size=8)

    def fit(checkpoint):
        torch.manual_seed(0)
        model, _ = build_network(session.method_cls, cfg, lambda m: None)
        engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
        obj = session.method_cls(cfg)
        obj.fit(FitContext(engine, ts, cfg, lambda e, loss: None, checkpoint,
                           log=lambda m: None))
        return obj, engine

    whole, e1 = fit(tmp_path / "a.pt")             # leaves the checkpoint of epoch 2 behind
    resumed, e2 = fit(tmp_path / "a.pt")           # starts from it: runs epoch 3 only
    assert e2.optimizer_steps == e1.optimizer_steps and e2.images_seen == e1.images_seen
    assert resumed.seen.images == whole.seen.images and whole.seen.images[0] > 0
    for one, two in ((e1.model, e2.model), (whole.classifier, resumed.classifier)):
        for (name, a), b in zip(one.state_dict().items(), two.state_dict().values()):
            assert torch.equal(a, b), name


def test_dbcnn_refuses_a_set_without_type_labels(release):
    cfg, session, ts = _session(release, "dbcnn")
    ts.dist_type = [None] * len(ts)
    labels, classes = distortion_classes(ts)
    assert classes == [] and (labels == -1).all()
    model, _ = build_network(session.method_cls, cfg, lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(0))
    ctx = FitContext(engine, ts, cfg, lambda e, loss: None, log=lambda m: None)
    with pytest.raises(BenchError, match="scnn_epochs=0"):
        session.method_cls(cfg).fit(ctx)


# ---------------------------------------------------------------- end to end
def test_each_runs_end_to_end_with_ermss_image_budget(release, tmp_path):
    seen = {}
    for method in ("erm", *DEEP):
        out = tmp_path / method
        assert run_cli(release, out, method=method, folds="A") == 0
        folder = run_folders(out)["A"]
        rec = json.loads((folder / "metrics.json").read_text())
        assert rec["method"] == method and np.isfinite(rec["srocc"])
        assert (folder / "model.pt").is_file() and (folder / "done").is_file()
        seen[method] = rec["images_seen"]
        if method != "erm":
            facts = rec["method_facts"]
            assert facts["budget"]["epoch_unit"] == "images"
            assert facts["parameters"] > 0 and facts["settings"]["loss"] in ("l1", "mse")
    assert len(set(seen.values())) == 1, seen


def test_own_network_is_reloaded_for_the_second_finetune_split(release, tmp_path, monkeypatch,
                                                               capsys):
    """Under the fine-tune protocol the pretrained artifact holds the method's own network;
    the second split rebuilds it through the method's build_model and reuses it."""
    monkeypatch.setitem(DATASETS, NAME + "2", DatasetSpec(NAME + "2", load_release,
                                                          kind="synthetic", synthetic=False))
    out = tmp_path / "ft"
    assert main(["run", "--protocol", "finetune", "--method", "hyperiqa", "--profile", "smoke",
                 "--device", "cpu", "--train", NAME, "--targets", NAME + "2", "--splits", "2",
                 "--train-ratio", "0.5", "--set", f"data.{NAME}={release}",
                 "--set", f"data.{NAME}2={release}", "--out", str(out)]) == 0
    log = capsys.readouterr()
    assert "reusing the trained model" in log.out + log.err
    assert "unusable" not in log.out + log.err
    assert len(list(out.glob("*/metrics.json"))) == 2
    assert len(list((out / "models").glob("*/model.pt"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("method", DEEP)
def test_scores_keep_fp32_resolution_under_bf16_autocast(method):
    """Under the engine's bf16 autocast the backbone runs in bf16 but the score does not
    come out rounded to bf16 (ties would bias SROCC)."""
    from bench.engine.engine import AmpForward

    cfg = resolve("smoke", {"device": "cpu"}, method=method)
    torch.manual_seed(4)
    net, _ = build_network(METHODS.get(method), cfg, lambda m: None)
    net.eval()
    x = torch.rand(8, 3, 32, 32)
    with torch.no_grad():
        full, amp = net(x), AmpForward(net, torch.bfloat16)(x)
    assert amp.dtype == torch.float32
    assert (amp.to(torch.bfloat16).float() != amp).sum() >= 6     # not bf16 values
    assert torch.allclose(amp, full, atol=0.1 * float(full.abs().max()) + 1e-3)
