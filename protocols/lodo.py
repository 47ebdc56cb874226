"""Leave-one-distortion-out (paper Tables 3 and 12): one fold per distortion type of the
dataset; the fold trains on every image of the other types and tests on the held-out
type's images. The counterfactual division sees the training types only."""
from __future__ import annotations

from bench.errors import UsageError
from bench.protocol import Fold, Option, Protocol
from bench.registry import PROTOCOLS


@PROTOCOLS.register("lodo")
class LeaveOneDistortionOut(Protocol):
    """LODO over any dataset with distortion type labels (--dataset)."""

    version = 1
    options = (Option("dataset", "dataset", "lodo: the dataset with distortion types "
                      "(default syn-kadid)"),)
    key_columns = ("fold",)
    unit = "fold"
    statistic = "mean"
    order = 0

    @classmethod
    def defaults(cls, real_data: bool) -> dict:
        return {"dataset": "syn-kadid"}

    def datasets(self, opts: dict) -> list[str]:
        return [opts["dataset"]]

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        ds = datasets[opts["dataset"]]
        if not ds.has_types:
            raise UsageError(f"--protocol lodo needs a dataset with distortion types; "
                             f"'{ds.name}' has none (use syn-kadid, kadid10k or tid2013)")
        folds = []
        types = ds.types()
        for held_out in types:
            train = [i for i, r in enumerate(ds.records) if r.dist_type != held_out]
            test = [i for i, r in enumerate(ds.records) if r.dist_type == held_out]
            folds.append(Fold(held_out, [(ds.name, train)], {ds.name: (ds.name, test)},
                              info={"fold_count": len(types)}))
        return folds
