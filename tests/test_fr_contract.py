"""The full-reference contract (bench/engine/method.py, bench/engine/pair_method.py): a method that says
``inputs = 'pairs'`` trains on aligned (reference, distorted, mos) batches of its fold's
training pairs and is scored on test pairs; FR/NR mismatches are one-line usage errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from bench.engine.pair_method import PairMethod
from bench.core.registry import METHODS
from tests import test_run
from tests.test_run import NAME, run_folders

SEEN: dict = {}

release = test_run.release   # the tiny on-disk release fixture (with references)


class DiffNet(nn.Module):
    """score = w * mean|ref - dist| + b: a full-reference model small enough to learn here."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, ref, dist):
        return self.lin((ref - dist).abs().mean(dim=(1, 2, 3)).unsqueeze(1)).squeeze(1)


class ToyFR(PairMethod):
    """A toy full-reference method: L1 regression of DiffNet on the labelled pairs."""

    display = "ToyFR"
    stateful = ("optimizer",)

    @classmethod
    def build_model(cls, cfg, log=print):
        return DiffNet(), "random"

    def setup(self, ctx):
        self.optimizer = torch.optim.Adam(ctx.engine.model.parameters(), lr=0.05)
        self.rng = np.random.default_rng(0)
        SEEN.update(n=len(ctx.train), labelled=int(ctx.train.labelled.sum()),
                    refs_in_bank=len(ctx.train.pairs.references))

    def iterations_per_epoch(self):
        return 4

    def update(self, ctx):
        pos = self.labelled_positions(ctx)
        pos = pos[self.rng.integers(0, len(pos), 8)]
        ref, dist, mos = self.pair_batch(ctx, pos)
        assert ref.shape == dist.shape == (8, 3, ctx.engine.crop, ctx.engine.crop)
        assert torch.isfinite(mos).all()
        return self.step(ctx, self.optimizer, (ctx.engine.model(ref, dist) - mos).abs().mean(), len(pos))


@pytest.fixture()
def toy_fr(monkeypatch):
    METHODS.discover()   # before the copy: the registry's own plug-ins stay in the original
    monkeypatch.setattr(METHODS, "_items", dict(METHODS._items))
    METHODS.add("toy-fr", ToyFR)
    SEEN.clear()
    return "toy-fr"


def run(release, out, protocol: str, method: str, *extra: str) -> int:
    """`python -m bench run` on the tiny release (which has references), smoke, CPU."""
    from bench.cli import main

    return main(["run", "--protocol", protocol, "--method", method, "--profile", "smoke",
                 "--seed", "1", "--device", "cpu", "--set", f"data.{NAME}={release}",
                 "--out", str(out), "--quiet", *extra])


def test_pair_method_trains_and_tests_on_pairs(release, tmp_path, toy_fr):
    out = tmp_path / "out"
    assert run(release, out, "fr-split", toy_fr, "--dataset", NAME, "--splits", "2") == 0
    folders = run_folders(out)
    assert set(folders) == {"s0", "s1"}
    rec = json.loads((folders["s0"] / "metrics.json").read_text())
    # 4 references x 6 images; 8:2 by reference -> 3 references train (18 pairs), 1 tests (6)
    assert rec["n_train"] == 18 and rec["n_labelled"] == 18 and rec["n"] == 6
    assert SEEN["n"] == 18 and SEEN["labelled"] == 18 and SEEN["refs_in_bank"] == 4
    assert rec["label_fraction"] == 1.0 and rec["split"] == 0
    pred = np.loadtxt(folders["s0"] / "predictions.csv", delimiter=",", skiprows=1,
                      usecols=-1)
    assert len(pred) == 6 and np.isfinite(pred).all()


def test_nr_method_under_fr_protocol_is_a_usage_error(release, tmp_path, capsys):
    assert run(release, tmp_path / "o", "fr-split", "erm", "--dataset", NAME) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-reference" in err[0] and "fr-split" in err[0]


def test_fr_method_under_a_pretraining_protocol_is_a_usage_error(release, tmp_path, capsys, toy_fr,
                                                                monkeypatch):
    from bench.data.registry import DATASETS

    monkeypatch.setitem(DATASETS, NAME + "2", DATASETS[NAME])   # a target that is not --train
    code = run(release, tmp_path / "o", "cross", toy_fr, "--train", NAME, "--targets", NAME + "2",
               "--set", f"data.{NAME}2={release}")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "full-reference" in err[0] and "fr-split" in err[0]


def test_fr_method_runs_under_lodo(release, tmp_path, toy_fr):
    from tests.test_run import run_cli

    assert run_cli(release, tmp_path / "out", method=toy_fr, folds="A") == 0
    rec = json.loads((run_folders(tmp_path / "out")["A"] / "metrics.json").read_text())
    assert rec["n"] == 8 and rec["n_labelled"] == 16


def test_fr_method_on_a_dataset_without_reference_images_is_a_usage_error(
        release, tmp_path, capsys, monkeypatch, toy_fr):
    import dataclasses

    from bench.data.registry import DATASETS

    spec = DATASETS[NAME]

    def no_refs(root):
        ds = spec.load(root)
        return dataclasses.replace(ds, records=[dataclasses.replace(r, ref_image=None) for r in ds.records])

    monkeypatch.setitem(DATASETS, NAME, dataclasses.replace(spec, load=no_refs))
    code = run(release, tmp_path / "o", "fr-split", toy_fr, "--dataset", NAME)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"'{NAME}' has no reference images" in err[0]
