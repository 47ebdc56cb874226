"""fr-siamese: the Siamese feature-difference network is zero on identical inputs' feature
difference and learns (its training loss falls through the engine's loop on the tiny
release's labelled pairs); under fr-labelfree it is refused in one line."""
from __future__ import annotations

import json

import numpy as np
import torch

from bench.engine.models import SmallCNN
from bench.methods.fr.siamese import SiameseFR
from tests import test_run
from tests.test_fr_contract import run
from tests.test_run import NAME, run_folders

release = test_run.release   # the tiny on-disk release fixture (with references)


def test_identical_pair_has_zero_difference_feature_and_both_fusions_score():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32)
    for both in (False, True):
        net = SiameseFR(SmallCNN(4), hidden=8, both=both).eval()
        f = net.features(x)
        assert f.shape == (4, 32, 2, 2)
        assert torch.equal((f - net.features(x.clone())).abs().mean(dim=(2, 3)),
                           torch.zeros(4, 32))
        out = net(x, (x + 0.2 * torch.randn_like(x)).clamp(0, 1))
        assert out.shape == (4,) and ((0 < out) & (out < 1)).all()


def test_training_loss_falls(release, tmp_path):
    out = tmp_path / "out"
    assert run(release, out, "fr-split", "fr-siamese", "--dataset", NAME, "--splits", "1",
               "--set", "train.epochs=40", "--set", "train.lr=0.003",
               "--set", "train.lr_step_epochs=100", "--set", "train.iterations_per_epoch=null") == 0
    rec = json.loads((run_folders(out)["s0"] / "metrics.json").read_text())
    losses = rec["loss_history"]
    assert len(losses) == 40 and rec["n_labelled"] == 18
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])
    assert rec["train_srocc"] > 0.5     # it ranks its own training pairs
    assert (run_folders(out)["s0"] / "model.pt").exists()


def test_label_free_protocol_is_refused(release, tmp_path, capsys):
    code = run(release, tmp_path / "o", "fr-labelfree", "fr-siamese", "--dataset", NAME, "--splits", "1")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("bench:")]
    assert code == 2 and len(err) == 1 and "no labelled pairs" in err[0]


def test_few_labels_train_on_the_labelled_pairs_only(release, tmp_path):
    out = tmp_path / "out"
    assert run(release, out, "fr-fewlabel", "fr-siamese", "--dataset", NAME, "--splits", "1",
               "--label-fraction", "0.25") == 0
    rec = json.loads((run_folders(out)["f0.25-s0"] / "metrics.json").read_text())
    assert rec["n_train"] == 18 and rec["n_labelled"] == 4 == rec["method_facts"]["n_labelled"]
    assert all(np.isfinite(rec["loss_history"]))
