"""The FR protocols' folds: fr-split keeps every reference on one side; fr-fewlabel keeps
the asked share of training MOS, seeded and nested; fr-labelfree keeps none; fr-cross
trains on one set and tests on another (with --adapt, the target's pairs unlabelled); and
end to end, scrambling the MOS of the unlabelled pairs leaves a run's predictions
identical (no hidden label reaches the method) while scrambling labelled MOS does not."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from bench.data.records import Dataset, Record
from bench.core.errors import UsageError
from bench.core.registry import PROTOCOLS
from tests import test_fr_contract as contract
from tests import test_run
from tests.test_fr_contract import run
from tests.test_run import NAME, run_folders

release = test_run.release   # the tiny on-disk release fixture (with references)
toy_fr = contract.toy_fr       # the toy FR method fixture


def toy_dataset(refs: int = 10, per_ref: int = 20, name: str = "d") -> Dataset:
    """``refs`` references x ``per_ref`` distorted images (records only)."""
    recs = [Record(f"{r}_{k}.png", mos=k / per_ref, mos_raw=k, ref=f"R{r}", ref_image=f"R{r}.png",
                   dist_type="X", level=1) for r in range(refs) for k in range(per_ref)]
    return Dataset(name, ".", recs, "synthetic", ["X"])


def folds(protocol: str, seed: int = 0, datasets=None, **opts):
    """The protocol's folds with ``opts`` resolved (and checked) as a run resolves them."""
    cls = PROTOCOLS.get(protocol)
    datasets = datasets or {"d": toy_dataset()}
    if "dataset" in cls.settings:
        opts = {"dataset": "d", **opts}
    return cls().folds(cls.resolve_options(protocol, opts, False), datasets, seed)


def refs_of(ds: Dataset, idx) -> set:
    return {ds.records[i].ref for i in idx}


def test_fr_split_keeps_references_on_one_side_and_is_seeded():
    ds = toy_dataset()
    got = folds("fr-split", seed=4, splits=4)
    assert [f.name for f in got] == ["s0", "s1", "s2", "s3"]
    for f in got:
        (_, train), = f.method_parts()
        (_, test), = f.tests.values()
        assert refs_of(ds, train).isdisjoint(refs_of(ds, test))
        assert len(refs_of(ds, train)) == 8 and len(refs_of(ds, test)) == 2   # 8:2 of 10
        assert sorted(train + test) == list(range(200)) and f.unlabelled == []
    assert len({tuple(f.method_parts()[0][1]) for f in got}) > 1                      # splits differ
    again = folds("fr-split", seed=4, splits=4)
    assert [f.method_parts() for f in again] == [f.method_parts() for f in got]
    assert [f.method_parts() for f in folds("fr-split", seed=5, splits=4)] != [f.method_parts() for f in got]
    half = folds("fr-split", seed=4, splits=1, train_ratio=0.5)[0]
    assert len(refs_of(ds, half.method_parts()[0][1])) == 5


def test_fr_fewlabel_keeps_the_asked_share_seeded_and_nested():
    ds = toy_dataset()
    got = folds("fr-fewlabel", seed=2, splits=2, label_fraction=[0.01, 0.1, 0.5, 1.0])
    assert [f.name for f in got][:4] == ["f0.01-s0", "f0.1-s0", "f0.5-s0", "f1-s0"]
    split = {f.name: f.method_parts()[0][1] for f in folds("fr-split", seed=2, splits=2)}
    kept = {}
    for f in got:
        frac, k = f.info["label_fraction"], f.info["split"]
        labelled = f.method_parts()[0][1]
        unlabelled = f.unlabelled[0][1] if f.unlabelled else []
        assert sorted(labelled + unlabelled) == sorted(split[f"s{k}"])        # fr-split's train
        assert set(labelled).isdisjoint(unlabelled)
        assert len(labelled) == max(1, round(frac * 160)) == f.info["n_labelled"]
        assert list(f.tests) == [f"d@{frac:g}"]
        assert refs_of(ds, f.tests[f"d@{frac:g}"][1]).isdisjoint(refs_of(ds, labelled + unlabelled))
        kept[(frac, k)] = set(labelled)
    assert kept[(0.01, 0)] <= kept[(0.1, 0)] <= kept[(0.5, 0)] <= kept[(1.0, 0)]
    again = folds("fr-fewlabel", seed=2, splits=2, label_fraction=[0.01, 0.1, 0.5, 1.0])
    assert [f.method_parts() for f in again] == [f.method_parts() for f in got]
    other = folds("fr-fewlabel", seed=3, splits=2, label_fraction=[0.1])
    assert set(other[0].method_parts()[0][1]) != kept[(0.1, 0)]
    # a comma list in one text (as --set gives it) is the same as the list
    text = folds("fr-fewlabel", seed=2, splits=2, label_fraction="0.01,0.1,0.5,1")
    assert [f.method_parts() for f in text] == [f.method_parts() for f in got]


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, "abc", [0.1, 2], True])
def test_label_fraction_outside_0_1_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="label_fraction"):
        folds("fr-fewlabel", label_fraction=bad)


def test_fr_labelfree_passes_no_mos():
    for f, s in zip(folds("fr-labelfree", splits=3), folds("fr-split", splits=3)):
        assert f.method_parts() == [] and f.unlabelled == s.method_parts() and f.tests == s.tests
        assert f.info["n_labelled"] == 0


def test_fr_cross_trains_on_one_set_and_tests_on_another():
    data = {"a": toy_dataset(4, 5, "a"), "b": toy_dataset(3, 5, "b")}
    (plain,) = folds("fr-cross", datasets=data, train=["a"], targets=["b"])
    assert plain.method_parts() == [("a", list(range(20)))] and plain.unlabelled == []
    assert plain.tests == {"b": ("b", list(range(15)))}
    (free,) = folds("fr-cross", datasets=data, train=["a"], targets=["b"], train_labels="false")
    assert free.method_parts() == [] and free.unlabelled == [("a", list(range(20)))]
    (adapt,) = folds("fr-cross", datasets=data, train=["a"], targets=["b"], adapt=True)
    assert adapt.method_parts() == [("a", list(range(20)))] and adapt.unlabelled == [("b", list(range(15)))]
    with pytest.raises(UsageError, match="adapt"):
        folds("fr-cross", datasets=data, train=["a"], targets=["b"], adapt="maybe")


def _rewrite_mos(release, rows: set, rng) -> None:
    """Give the records at positions ``rows`` of the release's labels.csv random MOS."""
    path = release / "labels.csv"
    with open(path, newline="") as fh:
        table = list(csv.DictReader(fh))
    for i in rows:
        table[i]["mos"] = f"{rng.uniform(0, 1):.6f}"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)


def _predictions(out) -> np.ndarray:
    (folder,) = run_folders(out).values()
    return np.loadtxt(folder / "predictions.csv", delimiter=",", skiprows=1, usecols=-1)


@pytest.mark.parametrize("method", ["toy-fr", "fr-siamese"])
def test_scrambled_unlabelled_mos_leaves_predictions_identical(release, tmp_path, toy_fr, method):
    from tests.test_run import load_release

    fold_name = "f0.25-s0"
    args = ("--dataset", NAME, "--splits", "1", "--label-fraction", "0.25", "--folds", fold_name)
    assert run(release, tmp_path / "one", "fr-fewlabel", method, *args) == 0
    ds = load_release(release)
    cls = PROTOCOLS.get("fr-fewlabel")
    (fold,) = [f for f in cls().folds({**cls.defaults(False), "dataset": NAME, "splits": 1,
                                       "label_fraction": [0.25]}, {NAME: ds}, 1)
               if f.name == fold_name]
    hidden, shown = set(fold.unlabelled[0][1]), set(fold.method_parts()[0][1])
    assert hidden and shown
    _rewrite_mos(release, hidden, np.random.default_rng(7))
    assert run(release, tmp_path / "two", "fr-fewlabel", method, *args) == 0
    np.testing.assert_array_equal(_predictions(tmp_path / "one"), _predictions(tmp_path / "two"))
    # the test is not blind: the same scramble of the labelled pairs changes the predictions
    _rewrite_mos(release, shown, np.random.default_rng(7))
    assert run(release, tmp_path / "three", "fr-fewlabel", method, *args) == 0
    assert not np.array_equal(_predictions(tmp_path / "one"), _predictions(tmp_path / "three"))


def test_run_header_names_what_trained_with_and_without_mos(release, tmp_path, toy_fr, capsys):
    """The summary header of `run` says which sets trained and which only lent pairs
    without MOS (fr-labelfree's training part used to print as an empty name)."""
    args = ("--dataset", NAME, "--splits", "1")
    assert run(release, tmp_path / "free", "fr-labelfree", "pyiqa-fr:psnr", *args) == 0
    assert f"trained on {NAME} without MOS (" in capsys.readouterr().out
    assert run(release, tmp_path / "few", "fr-fewlabel", toy_fr, *args, "--label-fraction", "0.25") == 0
    assert f"trained on {NAME} (" in capsys.readouterr().out
