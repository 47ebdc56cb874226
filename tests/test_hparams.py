"""Random hyperparameter search (issue 23): search distributions declared beside the
settings, draw 0 = the defaults, draw k seeded by (method, dataset, k), user-set values
kept, and `bench sweep --hparams N --dry-run` listing the draws."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_run import NAME, release  # noqa: F401 - the tiny release fixture

from bench.app.hparams import DRAW_KEY, draw, search_space, with_draws
from bench.app.spec import RunSpec
from bench.core.config import resolve
from bench.core.settings import Setting


def test_search_declarations_are_checked_when_declared():
    with pytest.raises(ValueError):
        Setting(1e-3, "float", low=0, search=("log-uniform", 0.0, 1e-2))
    with pytest.raises(ValueError):
        Setting(1e-3, "float", low=0, search=("normal", 0.0, 1.0))
    with pytest.raises(Exception):
        Setting("a", "str", choices=("a", "b"), search=("choice", ("a", "c")))   # c not allowed


def test_draws_fit_their_settings_and_scale_with_the_profile():
    s = Setting(3, "int", low=1, per_profile={"paper": 100}, search=("scale", (0.5, 2.0)))
    rng = np.random.default_rng(0)
    assert {s.draw(rng, "quick") for _ in range(50)} == {2, 6}
    assert {s.draw(rng, "paper") for _ in range(50)} == {50, 200}
    lr = Setting(2e-3, "float", low=0, search=("log-scale", 0.2, 5.0))
    values = [lr.draw(rng, "quick") for _ in range(200)]
    assert 4e-4 <= min(values) and max(values) <= 1e-2 and len(set(values)) > 100


def test_draw_zero_is_the_defaults_and_draw_k_is_reproducible():
    assert draw("cis", "syn-kadid", "quick", 0) == {}
    one = draw("cis", "syn-kadid", "quick", 1)
    assert one == draw("cis", "syn-kadid", "quick", 1)
    assert set(one) == set(search_space("cis")) and "train.lr" in one and "method.beta" in one
    assert one != draw("cis", "syn-kadid", "quick", 2)
    assert one != draw("cis", "syn-astro", "quick", 1)     # seeded by the dataset too
    cfg = resolve("quick", sets=[f"{k}={v}" if v is not None else f"{k}=null"
                                 for k, v in one.items()], method="cis")
    assert cfg["train"]["lr"] == one["train.lr"]           # every draw resolves


def test_user_set_values_are_kept_and_the_rest_unchanged():
    free = draw("cis", "syn-kadid", "quick", 3)
    fixed = draw("cis", "syn-kadid", "quick", 3, fixed={"train.lr"})
    assert "train.lr" not in fixed and fixed == {k: v for k, v in free.items() if k != "train.lr"}
    specs = with_draws([RunSpec(method="erm", settings={"train.lr": 1e-3})], 4)
    assert [s.settings[DRAW_KEY] for s in specs] == [0, 1, 2, 3]
    assert all(s.settings["train.lr"] == 1e-3 for s in specs)
    assert specs[0].settings == {"train.lr": 1e-3, DRAW_KEY: 0}
    assert len({s.key() for s in specs}) == 4


def test_sweep_dry_run_lists_every_draw(capsys, release):
    from bench.cli import main

    assert main(["sweep", "--method", "erm,cis", "--hparams", "3", "--validation", "true",
                 "--dataset", NAME, "--set", f"data.{NAME}={release}", "--folds", "A",
                 "--profile", "smoke", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"erm {NAME} smoke draw 0: defaults" in out
    assert f"cis {NAME} smoke draw 2: " in out and "method.beta=" in out
    assert "6 runs, 0 done, 6 to do" in out
