"""LODO's validation view: settings are chosen on types carved from the training types,
and a fold's held-out type is never read."""
from __future__ import annotations

import pytest

from bench.data.records import Dataset, Record
from bench.core.errors import UsageError
from bench.protocols.lodo import LeaveOneDistortionOut, validation_partners

TYPES = [f"T{k}" for k in range(6)]


def toy() -> Dataset:
    recs = [Record(image=f"{t}_{i}.png", mos=0.5, mos_raw=0.5, ref=f"r{i}", dist_type=t, level=1)
            for t in TYPES for i in range(4)]
    return Dataset("toy", "/nonexistent", recs, "synthetic", TYPES)


def test_partners_are_a_derangement_that_covers_every_type():
    p = validation_partners(TYPES, seed=3)
    assert sorted(p) == TYPES and sorted(p.values()) == TYPES
    assert all(k != v for k, v in p.items())
    assert p == validation_partners(TYPES, seed=3) != validation_partners(TYPES, seed=4)


def test_validation_folds_never_touch_the_held_out_type():
    ds = toy()
    folds = LeaveOneDistortionOut().folds({"dataset": "toy", "validation": "true"}, {"toy": ds}, 0)
    assert [f.name for f in folds] == TYPES
    for f in folds:
        v = f.info["validation_type"]
        train_types = {ds.records[i].dist_type for i in f.method_parts()[0][1]}
        test_types = {ds.records[i].dist_type for i in f.tests["toy"][1]}
        assert test_types == {v} and v != f.name
        assert not train_types & {f.name, v} and len(train_types) == len(TYPES) - 2


def test_plain_lodo_is_unchanged_and_bad_values_are_usage_errors():
    ds = toy()
    plain = LeaveOneDistortionOut().folds({"dataset": "toy"}, {"toy": ds}, 0)
    assert all({ds.records[i].dist_type for i in f.tests["toy"][1]} == {f.name} for f in plain)
    assert all("validation_type" not in f.info for f in plain)
    with pytest.raises(UsageError, match="protocol.validation"):    # checked before any fold
        LeaveOneDistortionOut.resolve_options("lodo", {"dataset": "toy", "validation": "maybe"},
                                              False)
