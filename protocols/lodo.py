"""Leave-one-distortion-out (paper Tables 3 and 12): one fold per distortion type of the
dataset; the fold trains on every image of the other types and tests on the held-out
type's images. The counterfactual division sees the training types only.

With ``protocol.validation=true`` (``--validation true``) each fold is instead its own
*validation* view, for choosing settings without looking at any held-out type: fold T
leaves out T and one more type V(T) (a seeded cyclic pairing, so every type is a
validation type exactly once), trains on the other types and scores V(T). T's images are
never read. Defaults are chosen on these runs; the held-out table is measured once after.
"""
from __future__ import annotations

import numpy as np

from bench.core.errors import UsageError
from bench.core.settings import Setting
from bench.engine.protocol import Fold, Protocol
from bench.engine.stages import Fit
from bench.core.registry import PROTOCOLS


def validation_partners(types: list, seed: int) -> dict:
    """held-out type -> its validation type: the next type in a seeded permutation of
    ``types`` (cyclic), so the pairing is a derangement and every type validates once."""
    if len(types) < 3:
        raise UsageError("lodo --validation true needs at least 3 distortion types")
    order = [types[i] for i in np.random.default_rng([seed, 31]).permutation(len(types))]
    return {t: order[(k + 1) % len(order)] for k, t in enumerate(order)}


@PROTOCOLS.register("lodo")
class LeaveOneDistortionOut(Protocol):
    """LODO over any dataset with distortion type labels (--dataset)."""

    version = 1
    settings = {
        "dataset": Setting("syn-kadid", "str", "lodo: the dataset with distortion types "
                           "(default syn-kadid)", flag="dataset", names="dataset"),
        "validation": Setting(False, "bool", "lodo: true scores each fold on a validation type "
                              "carved from its training types, never on the held-out one (for "
                              "choosing settings; default false)", flag="validation")}
    key_columns = ("fold",)
    unit = "fold"
    statistic = "mean"
    order = 0

    def datasets(self, opts: dict) -> list[str]:
        return [opts["dataset"]]

    def folds(self, opts: dict, datasets, seed: int = 0) -> list[Fold]:
        ds = datasets[opts["dataset"]]
        if not ds.has_types:
            raise UsageError(f"--protocol lodo needs a dataset with distortion types; "
                             f"'{ds.name}' has none (use syn-kadid, kadid10k or tid2013)")
        validation = bool(opts.get("validation", False))
        folds = []
        types = ds.types()
        partner = validation_partners(types, seed) if validation else {}
        for held_out in types:
            out = {held_out, partner.get(held_out)}
            scored = partner.get(held_out, held_out)
            train = [i for i, r in enumerate(ds.records) if r.dist_type not in out]
            test = [i for i, r in enumerate(ds.records) if r.dist_type == scored]
            info = {"fold_count": len(types)}
            if validation:
                info["validation_type"] = scored
            folds.append(Fold(held_out, [Fit([(ds.name, train)])], {ds.name: (ds.name, test)},
                              info=info))
        return folds

