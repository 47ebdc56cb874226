"""Minibatch samplers of training positions: uniform passes (ERM, fine-tuning) and per-subset
batches with Eq. 6 weights (CIS, CIP, MetaIQA tasks). Their state is plain data (lists and
ints), so checkpoints load with ``torch.load(weights_only=True)``."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from .engine import TrainSet


class BatchSampler:
    """Endless minibatches of positions from ``items``: a fresh permutation per pass, so
    every item is visited once per pass. Deterministic in ``rng``."""

    def __init__(self, items: np.ndarray, batch: int, rng: np.random.Generator):
        self.items = np.asarray(items)
        self.batch = max(1, min(int(batch), len(self.items)))
        self.rng = rng
        self._perm = np.empty(0, dtype=np.int64)
        self._at = 0

    @property
    def batches_per_pass(self) -> int:
        return math.ceil(len(self.items) / self.batch)

    def next(self) -> np.ndarray:
        """Positions (into ``items``' index space) of the next batch; B = self.batch."""
        if self._at + self.batch > len(self._perm):
            rest = self._perm[self._at:]
            self._perm = np.concatenate([rest, self.rng.permutation(len(self.items))])
            self._at = 0
        sel = self._perm[self._at:self._at + self.batch]
        self._at += self.batch
        return sel

    def state_dict(self) -> dict:
        """Where the sampler is in its permutation (for checkpoints): plain ints."""
        return {"perm": [int(i) for i in self._perm], "at": self._at}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s position (the permutation as int64 positions)."""
        self._perm, self._at = np.asarray(state["perm"], dtype=np.int64), int(state["at"])


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

    def __init__(self, subsets: list, train: TrainSet, batch_of: Callable[[str], int],
                 rng: np.random.Generator, sampling: str = "uniform"):
        if sampling not in SAMPLING:
            from ..core.errors import UsageError

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
