"""Minibatches of training positions: uniform passes over a set (ERM, fine-tuning, the
per-subset samplers of bench/methods/shared/subsets.py). The state is plain data (lists
and ints), so checkpoints load with ``torch.load(weights_only=True)``."""
from __future__ import annotations

import math

import numpy as np


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
