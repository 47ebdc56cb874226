"""Per-subset minibatches of the subset-based methods (CIS, CIP, MetaIQA's tasks) and the
per-subset batch size they share (``method.subset_batch``)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from bench.core.errors import UsageError
from bench.core.settings import Setting
from bench.engine.samplers import BatchSampler

#: Per-subset batch by dataset name (with a ``default``): images of one subset per step.
#: The paper's 32 (TID2013) and 102 (KADID-10k) are about a quarter of one distortion
#: type's images (docs/readings.md).
SUBSET_BATCH = Setting(
    {"default": 20}, "map", "per-subset batch of each dataset ('default' for the others)",
    item="int", low=1, per_profile={"smoke": {"default": 4},
                                    "paper": {"tid2013": 32, "kadid10k": 102, "default": 32}})


def subset_batch(hp: dict, dataset: str) -> int:
    """The per-subset batch of items of ``dataset`` (``hp['subset_batch']``: a map by
    dataset with a ``default``, or one number for all)."""
    sb = hp["subset_batch"]
    if isinstance(sb, int):
        return sb
    return int(sb.get(dataset, sb.get("default", 16)))


SAMPLING = ("uniform", "weighted")


class SubsetBatches:
    """Per-subset minibatches for the subset-based paradigms (CIS, CIP, MetaIQA tasks).

    For subset s it returns training positions and weights summing to 1 whose weighted
    loss estimates the subset loss of Eq. 6 (sum of w_i * loss_i over the subset):

    * ``uniform``: a batch drawn uniformly, without replacement (a fresh permutation per
      pass over the subset), its Eq. 6 weights renormalised over the batch (a ratio
      estimate: slightly biased, and images of weight ~0 cost compute but count nothing);
    * ``weighted``: a batch drawn i.i.d. with probability equal to the Eq. 6 weights, each
      image weighing 1/B (unbiased; no compute on near-zero weights).

    Batch sizes come from ``batch_of(dataset)``; draws use ``rng``.
    """

    def __init__(self, subsets: list, train, batch_of: Callable[[str], int],
                 rng: np.random.Generator, sampling: str = "uniform"):
        if sampling not in SAMPLING:
            raise UsageError(f"method.sampling must be one of {', '.join(SAMPLING)}, not {sampling!r}")
        self.subsets = subsets
        self.sampling = sampling
        self.rng = rng
        self.samplers = []
        for s in subsets:
            dataset = train.dataset[int(s.items[0])]
            self.samplers.append(BatchSampler(np.arange(len(s.items)), batch_of(dataset), rng))

    @property
    def iterations_per_epoch(self) -> int:
        """Iterations for the largest subset to be seen once (the earlier epoch rule)."""
        return max(s.batches_per_pass for s in self.samplers)

    def batch_size(self, k: int) -> int:
        """Images in a batch of subset ``k``."""
        return self.samplers[k].batch

    def images_per_round(self) -> int:
        """Images in one batch of every subset (one CIS/CIP meta-iteration)."""
        return sum(sp.batch for sp in self.samplers)

    def next(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions into the training set, weights summing to 1) for subset ``k``."""
        s = self.subsets[k]
        if self.sampling == "weighted":
            b = self.samplers[k].batch
            p = s.weights / s.weights.sum()
            sel = np.sort(self.rng.choice(len(s.items), size=b, replace=True, p=p))
            return s.items[sel], np.full(b, 1.0 / b)
        sel = self.samplers[k].next()
        w = s.weights[sel]
        total = w.sum()
        w = w / total if total > 0 else np.full(len(sel), 1.0 / len(sel))
        return s.items[sel], w

    def state_dict(self) -> dict:
        """Every subset's sampler position (plain data)."""
        return {"samplers": [sp.state_dict() for sp in self.samplers]}

    def load_state_dict(self, state: dict) -> None:
        """Restore every subset's sampler from :meth:`state_dict`."""
        for sp, st in zip(self.samplers, state["samplers"]):
            sp.load_state_dict(st)
