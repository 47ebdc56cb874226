"""Every config value is checked by type and range where it is parsed, before any data is
touched: one line on stderr naming the key, the value and what is allowed, exit status 2,
no traceback (issue 11 item 7). Method settings are checked the same way."""
from __future__ import annotations

import pytest

from bench.cli import main
from bench.core.config import resolve, validate
from bench.core.errors import UsageError
from tests.no_data import forbid_data


@pytest.fixture()
def no_data(monkeypatch, tmp_path):
    """BENCH_CACHE in tmp; loading any data (the suite, the plan's datasets) fails the test."""
    forbid_data(monkeypatch, tmp_path, 'the config was validated', 'open_dataset')
    return tmp_path / "cache"


BAD = [
    # (arguments, key named, value named, words of what is allowed)
    (["--set", "train.lr=abc"], "train.lr", "abc", "a number"),
    (["--set", "train.epochs=two"], "train.epochs", "two", "an integer >= 1"),
    (["--set", "train.epochs=-1"], "train.epochs", "-1", "an integer >= 1"),
    (["--set", "data.size=abc"], "data.size", "abc", "an integer"),
    (["--set", "data.size=0"], "data.size", "0", "an integer in [1, 4096]"),
    (["--set", "data.synthetic_seed=\"0/../../victim\""], "data.synthetic_seed", "0/../../victim",
     "an integer"),
    (["--set", "data.synthetic_seed=-3"], "data.synthetic_seed", "-3", "an integer"),
    (["--set", "division.clusters=0"], "method.clusters", "0", "an integer in [1, 1000]"),
    (["--clusters", "0"], "method.clusters", "0", "an integer in [1, 1000]"),
    (["--set", "method.clusters=1001"], "method.clusters", "1001", "an integer in [1, 1000]"),
    (["--set", "method.meta_lr=abc"], "method.meta_lr", "abc", "a number >= 0"),
    (["--set", "method.meta_step=rmsprop"], "method.meta_step", "rmsprop",
     "one of interp, metaiqa-code, adam"),
    (["--method", "metaiqa", "--set", "method.support_frac=1.5"], "method.support_frac", "1.5",
     "a number in [0.01, 0.99]"),
    (["--seed", "-1"], "seed", "-1", "an integer"),
    (["--set", "engine.amp=fp8"], "engine.amp", "fp8", "one of auto, bf16, off"),
    (["--set", "train.betas=[0.9]"], "train.betas", "[0.9]", "a list of 2 floats"),
    (["--set", "method.subset_batch.kadid10k=0"], "method.subset_batch.kadid10k", "", "a map"),
    (["--set", "method.clusters.x=2"], "method.clusters", "", "no entry 'x'"),
    (["--set", "data.crop=64", "--set", "data.size=40"], "data.crop", "64", "larger than data.size"),
    (["--set", "model.dropout=abc"], "model.dropout", "abc", "a number in [0, 0.99]"),
    (["--set", "finetune.select=val"], "finetune.select", "val", "valid choices"),
    (["--set", "model.backbone=resnet9"], "backbone", "resnet9", "valid choices"),
]


@pytest.mark.parametrize("args,key,value,allowed", BAD, ids=[" ".join(c[0]) for c in BAD])
def test_bad_values_are_one_line_usage_errors_before_any_data(no_data, capsys, args, key, value,
                                                             allowed):
    rc = main(["run", "--profile", "smoke", "--method", "cis", "--out", "unused", "--quiet",
               *args])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error:"), err
    assert key in lines[0] and value in lines[0] and allowed in lines[0], lines[0]
    assert not no_data.exists()                       # nothing generated or decoded


def test_unknown_method_setting_lists_the_methods_valid_keys(no_data, capsys):
    rc = main(["run", "--profile", "smoke", "--method", "metaiqa", "--out", "unused",
               "--set", "method.clusters=3"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "method 'metaiqa' declares no setting 'clusters'" in err
    for key in ("method.support_frac", "method.head_lr", "method.loss"):
        assert key in err


def test_a_method_setting_lands_under_method_settings_and_changes_the_identity():
    base = resolve("smoke", method="cis")
    assert base["method"] == "cis" and base["method_settings"]["clusters"] == 2
    assert base["method_settings"]["meta_lr"] == 1e-2
    cfg = resolve("smoke", sets=["method.meta_lr=0.05", "division.clusters=3"], method="cis")
    assert cfg["method_settings"]["meta_lr"] == 0.05 and cfg["method_settings"]["clusters"] == 3
    from bench.core.config import config_hash

    assert config_hash(cfg) != config_hash(base)


def test_paper_profile_keeps_the_papers_method_values():
    cis = resolve("paper", method="cis")["method_settings"]
    assert (cis["meta_step"], cis["beta"], cis["meta_lr"], cis["meta_betas"]) == (
        "interp", 1.0, 1e-2, [0.9, 0.9999])
    assert (cis["clusters"], cis["feature"], cis["tsne_dims"], cis["perplexity"],
            cis["covariance"]) == (2, "auto", 10, 30.0, "diag")
    meta = resolve("paper", method="metaiqa")["method_settings"]
    assert {k: meta[k] for k in ("support_frac", "head_lr", "loss", "meta_batch", "beta",
                                 "support_batch", "query_batch", "epochs", "lr_step_epochs",
                                 "lr_decay")} == {
        "support_frac": 0.8, "head_lr": 1e-2, "loss": "mse", "meta_batch": 5, "beta": 1.0,
        "support_batch": 75, "query_batch": 50, "epochs": 50, "lr_step_epochs": 2, "lr_decay": 0.9}


def test_every_profile_passes_its_own_schema():
    for profile in ("smoke", "quick", "paper"):
        for method in ("erm", "metaiqa", "cis", "cip-c"):
            validate(resolve(profile, method=method))


def test_clusters_above_the_training_references_is_a_usage_error(monkeypatch):
    from tests.test_methods import method_config, tiny_data  # noqa: F401
    import bench.engine.session as plan
    from tests.test_methods import tiny_dataset

    sets = {"tiny": tiny_dataset("tiny", ("A", "B"), (1,), 4, seed=1)}
    monkeypatch.setattr(plan, "open_dataset", lambda name, *a, **k: sets[name][0])
    cfg = method_config("cis")
    cfg["method_settings"]["clusters"] = 5                  # the fold has 4 references
    with pytest.raises(UsageError, match=r"method.clusters=5 is more than the 4 training references"):
        plan.load_plan(cfg, log=lambda m: None)
