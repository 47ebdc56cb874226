"""Fine-tune splits: seeded, identical for every method with the same seed (paired
comparisons), disjoint in references where the target has references."""
from __future__ import annotations

from bench.data.records import Record
from bench.protocols.finetune import split_indices


def _records(refs: int, per_ref: int, with_refs: bool = True) -> list[Record]:
    return [Record(image=f"r{r}_{k}.png", mos=0.5, mos_raw=0.5, ref=f"r{r}" if with_refs else None)
            for r in range(refs) for k in range(per_ref)]


def test_splits_keep_references_on_one_side():
    recs = _records(16, 15)
    for split in range(5):
        train, test = split_indices(recs, 0.8, seed=0, split=split, target="syn-wild")
        assert set(train).isdisjoint(test) and len(train) + len(test) == len(recs)
        train_refs = {recs[i].ref for i in train}
        test_refs = {recs[i].ref for i in test}
        assert train_refs.isdisjoint(test_refs)
        assert len(train_refs) == round(0.8 * 16)          # t applies to references


def test_splits_are_seeded_and_differ_between_splits():
    recs = _records(16, 15)
    a = split_indices(recs, 0.8, seed=3, split=1, target="livec")
    assert a == split_indices(recs, 0.8, seed=3, split=1, target="livec")   # any method, same split
    assert a != split_indices(recs, 0.8, seed=3, split=2, target="livec")
    assert a != split_indices(recs, 0.8, seed=4, split=1, target="livec")


def test_authentic_targets_split_by_image():
    recs = _records(1, 50, with_refs=False)
    train, test = split_indices(recs, 0.3, seed=0, split=0, target="koniq10k")
    assert (len(train), len(test)) == (15, 35)
