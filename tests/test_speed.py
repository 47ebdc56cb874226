"""`python -m bench speed` (issue 6) on the smoke profile with the random stand-in data:
the JSON report's keys and their meaning, the table, the method blocks (a meta-iteration
for the subset methods, a capped fit for the others), the stand-in's subsets, the choice
of data, and torch.compile through the engine (with the eager backend: no compiler)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.app import speed_data
from bench.cli import main as cli_main
from bench.core.config import resolve
from bench.engine.models import build_model
from bench.engine.engine import Engine

SMALL = ["--profile", "smoke", "--steps", "2", "--repeats", "2", "--threads", "1",
         "--data", "random", "--device", "cpu"]


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def small_standin(monkeypatch, types=4, levels=2, refs=4):
    """Shrink the stand-in so a measurement takes a fraction of a second."""
    real = speed_data.standin_data

    def smaller(cfg, seed=0, **kw):
        return real(cfg, types=types, levels=levels, refs=refs, seed=seed, **kw)

    monkeypatch.setattr(speed_data, "standin_data", smaller)


def run_json(capsys, *extra) -> dict:
    assert cli_main(["speed", *SMALL, "--json", *extra]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0, "--json prints one line: one JSON object"
    return json.loads(out)


@pytest.mark.slow
def test_json_report_for_cis(monkeypatch, capsys):
    small_standin(monkeypatch)
    r = run_json(capsys)
    for key in ("bare_img_s", "erm_img_s", "method_img_s", "data_crops_s", "harness_over_bare",
                "method_over_erm", "method_over_erm_per_image", "device", "peak_host_mb",
                "profile", "method", "batch_size", "host_crops_s", "erm_matched_img_s"):
        assert key in r, key
    assert (r["method"], r["profile"], r["device"], r["data"]) == ("cis", "smoke", "cpu", "random")
    assert "peak_device_mb" not in r                       # no CUDA here
    for key in ("bare_img_s", "erm_img_s", "method_img_s", "data_crops_s", "host_crops_s",
                "harness_over_bare", "method_over_erm", "peak_host_mb"):
        assert np.isfinite(r[key]) and r[key] > 0, key
    # one CIS meta-iteration visits every subset once: 4 types x 2 clusters, batch 4 each
    mb = r["method_batches"]
    assert r["n_subsets"] == 8 and mb["unit"] == "update"
    assert mb["iterations_per_block"] == 1 and mb["steps_per_block"] == 8
    assert mb["batch_sizes"] == [4] and mb["images_per_block"] == 32
    assert r["batch_size"] == 16 and r["torch_threads"] == 1
    assert r["engine"]["placement"] == "host" and r["engine"]["amp"] == "off"
    assert set(r["meets_targets"]) == {"harness_over_bare", "method_over_erm"}
    # the ratios are those of the rates the table prints
    assert r["harness_over_bare"] == pytest.approx(r["erm_img_s"] / r["bare_img_s"])
    assert r["harness_step_over_bare"] == pytest.approx(r["erm_precut_img_s"] / r["bare_img_s"])
    assert r["method_over_erm_per_image"] == pytest.approx(r["erm_img_s"] / r["method_img_s"])


@pytest.mark.slow
def test_table_names_device_ratios_and_data(monkeypatch, capsys):
    small_standin(monkeypatch)
    assert cli_main(["speed", *SMALL, "--method", "cip"]) == 0
    out = capsys.readouterr().out
    for text in ("device: cpu", "harness/bare =", "cip/ERM per step, same batches =",
                 "random uint8 stand-in", "peak memory: host", "crops/s", "bare PyTorch loop"):
        assert text in out, text


@pytest.mark.slow
def test_parallel_and_meta_method_blocks(monkeypatch, capsys):
    small_standin(monkeypatch)
    cip = run_json(capsys, "--method", "cip")
    # CIP: ONE inner step per meta-iteration on a batch holding every subset's minibatch;
    # steps=2 asks for 2 inner steps or 2 x 16 images: one 32-image iteration covers that
    assert cip["method_batches"]["batch_sizes"] == [8 * 4]
    assert cip["method_batches"]["iterations_per_block"] == 1
    assert cip["method_batches"]["steps_per_block"] == 1
    meta = run_json(capsys, "--method", "metaiqa")
    # MetaIQA is timed through the same hooks (setup, then update): per task one support
    # and one query step per update
    assert meta["method_batches"]["unit"] == "update"
    assert meta["method_batches"]["steps_per_block"] % 8 == 0 and meta["n_subsets"] is None
    assert meta["method_over_erm"] > 0


def test_standin_is_shaped_like_a_lodo_fold():
    """Types x levels x references, each reference with an image a method's counterfactual
    division clusters."""
    from bench.methods.shared.division import divide

    cfg = resolve("smoke")
    sd = speed_data.standin_data(cfg, types=5, levels=3, refs=4)
    assert len(sd.train) == 60 and sd.kind == "random"
    assert sd.train.bank.arrays[0].shape == (60, 40, 40, 3)
    assert len(sd.train.reference_keys()) == 4 and len(set(sd.train.type_keys())) == 5
    assert sd.train.reference_image(sd.train.ref[0]).shape == (40, 40, 3)
    assert len(divide(sd.train, 1, 0)[0]) == 5
    assert len(divide(sd.train, 1, 0, levels=True)[0]) == 15
    subsets, feature = divide(sd.train, 2, 0, log=lambda m: None)
    assert 5 <= len(subsets) <= 10 and feature == "pixelstats"
    for s in subsets:
        assert s.weights.sum() == pytest.approx(1.0)


def test_data_choice(monkeypatch):
    cfg = resolve("smoke")
    monkeypatch.setattr(speed_data, "suite_cached", lambda seed=0: False)
    assert speed_data.speed_data(cfg, "auto", "syn-kadid", print).kind == "random"
    called = []
    monkeypatch.setattr(speed_data, "suite_cached", lambda seed=0: True)
    monkeypatch.setattr(speed_data, "fold_data", lambda c, d, log: called.append(d) or "fold")
    assert speed_data.speed_data(cfg, "auto", "syn-kadid", print) == "fold" and called == ["syn-kadid"]
    assert speed_data.speed_data(cfg, "random", "syn-kadid", print).kind == "random"


def test_cpu_threads_drop_to_one_on_a_busy_machine():
    from bench.commands.speed import cpu_threads

    assert cpu_threads(None, 0, 2, 0.2, 2) == (2, "torch's default")
    n, why = cpu_threads(None, 0, 2, 4.0, 2)
    assert n == 1 and "busy" in why and "load 4.0 on 2 cores" in why
    assert cpu_threads(3, 1, 2, 9.0, 2) == (3, "--threads")
    assert cpu_threads(None, 1, 2, 0.0, 2) == (1, "engine.threads")   # what a run would use
    assert cpu_threads(None, 0, 8, 1.0, 16)[0] == 8


def test_usage_errors(capsys):
    assert cli_main(["speed", "--steps", "0"]) == 2
    assert cli_main(["speed", "--method", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    # an FR method is refused by name, with where its cost is recorded instead
    assert cli_main(["speed", "--method", "cdfr"]) == 2
    err = capsys.readouterr().err
    assert "cdfr" in err and "train_seconds" in err and "Traceback" not in err


@pytest.mark.slow
def test_compiled_engine_trains_like_the_eager_one():
    """engine.compile goes through torch.compile (eager backend: tracing only, no C++
    compiler needed); the compiled step computes what the plain one does."""
    torch.set_num_threads(1)
    cfg = resolve("smoke")
    sd = speed_data.standin_data(cfg, types=2, levels=2, refs=4)
    torch.manual_seed(0)
    model, _ = build_model(cfg["model"], lambda m: None)
    losses = {}
    for backend in (False, "eager"):
        c = resolve("smoke", {"engine.compile": backend})
        e = Engine(c, __import__("copy").deepcopy(model), torch.device("cpu"), np.random.default_rng(0))
        assert (e.net is e.model) if backend is False else (e.net._orig_mod is e.model)
        opt = e.adam(e.model.parameters(), 1e-3)
        losses[backend] = [e.step(opt, sd.train, np.arange(8)) for _ in range(2)]
        assert e.describe()["compile"] == backend
    np.testing.assert_allclose(losses["eager"], losses[False], rtol=1e-5)
