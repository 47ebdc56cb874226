"""train.holdout (issue 23's train-val score): a seeded share of a fold's training
references is held out whole, the same for the same seed and fold."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.core.errors import UsageError
from bench.engine.holdout import holdout_split


def _session(pairs: bool = False):
    records = [SimpleNamespace(ref=f"r{i // 4}", image=f"i{i}") for i in range(40)]   # 10 refs
    method = type("M", (), {"inputs": "pairs" if pairs else "images"})
    return SimpleNamespace(datasets={"d": SimpleNamespace(records=records)}, method_cls=method)


def _cfg(share: float, seed: int = 0) -> dict:
    return {"seed": seed, "train": {"holdout": share}}


def test_holdout_takes_whole_references_seeded_by_seed_and_fold():
    s, parts = _session(), [("d", list(range(40)))]
    train, held = holdout_split(s, parts, _cfg(0.2), "GB")
    (_, kept), (_, out) = train[0], held[0]
    assert sorted(kept + out) == list(range(40)) and len(out) == 8       # 2 of 10 references
    held_refs = {i // 4 for i in out}
    assert len(held_refs) == 2 and not held_refs & {i // 4 for i in kept}
    assert holdout_split(s, parts, _cfg(0.2), "GB") == (train, held)
    assert holdout_split(s, parts, _cfg(0.2), "WN") != (train, held)     # another fold
    assert holdout_split(s, parts, _cfg(0.0), "GB") == (parts, [])


def test_holdout_of_a_full_reference_method_is_a_usage_error():
    with pytest.raises(UsageError, match="train.holdout"):
        holdout_split(_session(pairs=True), [("d", list(range(40)))], _cfg(0.2), "GB")
