"""Weights are part of the identity (issue 19, item 2): a run's identity holds the digest
of every weights file it loads (backbone, and the division's feature extractor) or 'none';
the paper profile (model.pretrained=true) stops before anything runs when a checkpoint is
missing, naming the file, the folder and --weights; --weights serves the division too;
random init on the paper profile is asked for explicitly and labelled in every table.
No real weights are needed: the checkpoints here are tiny fake files."""
from __future__ import annotations

import pytest

from bench.app.results import load_results
from bench.cli import main
from bench.core.config import config_hash, resolve
from bench.core.errors import UsageError
from bench.core.registry import METHODS, PROTOCOLS
from bench.engine.fold import init_label
from bench.engine.protocol import Fold
from bench.engine.session import check_config, fold_config, weights_identity
from bench.reports.leaderboard import build_leaderboard, format_text

from fake_runs import make_run
from tests.no_data import forbid_data


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """An empty torch cache ($TORCH_HOME) in tmp: its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def config(profile: str, method: str = "cis", **sets) -> dict:
    cfg = resolve(profile, sets, method=method)
    cfg["protocol"] = PROTOCOLS.get("lodo").resolve_options("lodo", {}, False)
    return cfg


@pytest.fixture()
def no_data(monkeypatch, tmp_path):
    """BENCH_CACHE in tmp; generating or loading data fails the test."""
    forbid_data(monkeypatch, tmp_path, 'the weights were checked', 'prepare')
    return tmp_path


def test_the_paper_profile_without_weights_stops_before_anything_runs(hub, no_data, capsys):
    rc = main(["run", "--profile", "paper", "--method", "cis", "--runs", str(no_data / "runs")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "resnet18-f37072fd.pth" in err and str(hub) in err and "--weights FILE" in err
    assert "--set model.pretrained=false" in err
    assert not (no_data / "runs").exists()


def test_pretrained_true_is_strict_on_any_profile(hub):
    with pytest.raises(UsageError, match="resnet18-f37072fd.pth"):
        check_config(config("smoke", "erm", **{"model.backbone": "resnet18", "model.pretrained": True}))
    with pytest.raises(UsageError, match="resnet50-"):
        check_config(config("smoke", "erm", **{"model.backbone": "resnet50", "model.pretrained": True}))


def test_the_division_needs_its_features_on_the_paper_profile(hub, tmp_path):
    """The backbone's weights given, the division's ResNet-18 still missing: named."""
    fake = tmp_path / "r50.pth"
    fake.write_bytes(b"not really resnet-50")
    cfg = config("paper", "cis", **{"model.backbone": "resnet50", "model.weights": str(fake)})
    with pytest.raises(UsageError, match=r"resnet18 \(the content features.*resnet18-f37072fd.pth"):
        check_config(cfg)
    cfg = config("paper", "cis-c", **{"model.backbone": "resnet50", "model.weights": str(fake)})
    check_config(cfg)                                   # one cluster: no features to compute


def test_weights_serve_the_division_and_enter_the_identity(hub, tmp_path):
    fake = tmp_path / "mine.pth"
    fake.write_bytes(b"fake resnet-18 weights")
    cfg = config("paper", "cis", **{"model.weights": str(fake)})
    check_config(cfg)
    got = weights_identity(cfg, METHODS.get("cis"))
    assert got["backbone"] == got["division features"] and got["backbone"].startswith("sha256:")
    other = tmp_path / "other.pth"
    other.write_bytes(b"other resnet-18 weights")
    changed = config("paper", "cis", **{"model.weights": str(other)})
    assert config_hash(fold_config(cfg, Fold("GB"))) != config_hash(fold_config(changed, Fold("GB")))


def test_a_checkpoint_put_in_the_cache_makes_another_run(hub):
    """A fold trained from random init is not 'done' once the checkpoint is in the cache."""
    cfg = config("quick", "cis", **{"model.backbone": "resnet18"})
    before = fold_config(cfg, Fold("GB"))
    assert before["weights"] == {"backbone": "none", "division features": "none"}
    (hub / "resnet18-f37072fd.pth").write_bytes(b"fake checkpoint")
    after = fold_config(cfg, Fold("GB"))
    assert after["weights"]["backbone"].startswith("sha256:")
    assert after["weights"]["division features"] == after["weights"]["backbone"]
    assert config_hash(before) != config_hash(after)


def test_a_network_free_method_loads_no_backbone(hub):
    assert fold_config(config("smoke", "brisque"), Fold("GB"))["weights"] == {"backbone": "none"}


def test_random_init_on_the_paper_profile_is_asked_for_and_labelled(hub, tmp_path):
    cfg = config("paper", "cis", **{"model.pretrained": False})
    check_config(cfg)                                    # no error: it was asked for
    assert weights_identity(cfg, METHODS.get("cis")) == {"backbone": "none",
                                                         "division features": "none"}
    assert init_label(cfg) == {"init_label": "random init"}
    assert init_label(config("smoke", "cis", **{"model.pretrained": False})) == {}
    make_run(tmp_path, method="cis", profile="paper", facts=init_label(cfg), model__pretrained=False)
    make_run(tmp_path, method="cis", profile="paper")
    res = load_results(tmp_path)
    assert sorted(res["method_display"]) == ["CIS", "CIS (random init)"]
    assert "CIS (random init)" in format_text(build_leaderboard(res))
