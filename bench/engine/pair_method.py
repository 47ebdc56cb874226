"""The full-reference side of the method interface (the FR contract; see bench/engine/method.py):
the training set of pairs a full-reference method gets, and :class:`PairMethod`, the base
class whose helpers cut aligned (reference, distorted, mos) batches and score test pairs.

A subclass implements the usual hooks (``setup``, ``update``, ...; bench/engine/method.py) and,
when its network does not take ``(reference, distorted)`` as ``model(ref, dist) -> B``,
overrides :meth:`PairMethod.score` (or ``predict_pairs`` entirely: a method that trains no
network). Images are float B x 3 x crop x crop in [0, 1] on the engine's device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.pairs import PairBank
from .loop import FitContext
from .method import Method
from .engine import TrainSet


@dataclass
class PairTrainSet(TrainSet):
    """A fold's training pairs. As :class:`~bench.engine.engine.TrainSet` (``bank`` the distorted
    images' bank, ``index`` global indices into it) plus ``pairs``, the PairBank holding
    them beside their references. ``mos`` is float32 in [0, 1] for a labelled pair and
    NaN for a pair the protocol passed without its label."""

    pairs: PairBank | None = None

    @property
    def labelled(self) -> np.ndarray:
        """Boolean mask (len N): the pairs whose MOS the method may use."""
        return np.isfinite(self.mos)


class PairMethod(Method):
    """Base class of full-reference methods (``inputs = 'pairs'``).

    Training: ``self.pair_batch(ctx, pos)`` gives aligned random crops of the pairs at
    training positions ``pos`` and their MOS (NaN where unlabelled); ``self.step(ctx, opt,
    loss, n)`` takes one optimizer step and counts ``n`` pairs as seen (the engine's
    images budget: an epoch is the training set's size in pairs, labelled or not).
    Testing: :meth:`predict_pairs` scores the test view of each pair with :meth:`score`.
    """

    inputs = "pairs"
    epoch_unit = "images"
    engine = None   # the fit's engine, kept by ``fit`` for ``predict_pairs``

    def fit(self, ctx: FitContext) -> list[float]:
        """Keep the engine (prediction needs it), then train through the engine's loop."""
        self.engine = ctx.engine
        return super().fit(ctx)

    # ---------------------------------------------------------------- training helpers
    @staticmethod
    def labelled_positions(ctx: FitContext) -> np.ndarray:
        """Training positions (int64) of the pairs that keep their MOS."""
        return np.flatnonzero(ctx.train.labelled)

    def pair_batch(self, ctx: FitContext, pos: np.ndarray):
        """(ref, dist, mos) for training positions ``pos`` (B): aligned random crops
        (one window and flip for both; data.crop, data.flip) as float B x 3 x crop x crop
        in [0, 1] on the device, and the float32 B MOS tensor (NaN where unlabelled)."""
        import torch

        e = ctx.engine
        ref, dist = _pairs_on(e, ctx.train.pairs).random_pairs(
            ctx.train.index[np.asarray(pos)], e.crop, e.rng, e.flip)
        mos = torch.from_numpy(np.ascontiguousarray(ctx.train.mos[np.asarray(pos)]))
        return _to_float(e, ref), _to_float(e, dist), mos.to(e.device)

    @staticmethod
    def step(ctx: FitContext, opt, loss, n: int) -> float:
        """Backward ``loss`` and take one step of ``opt``; ``n`` pairs counted as seen
        (the loop's image budget). Returns the loss, a device tensor (Engine.apply)."""
        return ctx.engine.apply(opt, loss, n)

    # ---------------------------------------------------------------- prediction
    def score(self, ref, dist):
        """Scores (B, higher = better) of float pairs B x 3 x H x W: the engine's model
        called as ``model(ref, dist)``."""
        return self.engine.model(ref, dist)

    def test_pairs(self, pairs: PairBank, index: np.ndarray):
        """The test view (test.view) of pairs ``index``: (ref, dist) float B x 3 x crop x
        crop on the device: central crops ('center') or whole images resized ('resize')."""
        e = self.engine
        bank = _pairs_on(e, pairs)
        if e.test_view == "center":
            ref, dist = bank.center_pairs(index, e.crop)
        else:
            ref, dist = bank.resized_pairs(index, e.crop)
        return _to_float(e, ref), _to_float(e, dist)

    def predict_pairs(self, pairs: PairBank, index: np.ndarray, batch_size: int) -> np.ndarray:
        """Scores (float64 N, higher = better) of the pairs whose distorted images are
        ``index`` (global indices into ``pairs``), in eval mode, without gradients."""
        import torch

        model = self.engine.model
        index = np.asarray(index, dtype=np.int64)
        was_training = model.training
        model.eval()
        out = []
        with torch.no_grad():
            for a in range(0, len(index), max(1, batch_size)):
                ref, dist = self.test_pairs(pairs, index[a:a + batch_size])
                out.append(self.score(ref, dist).float().reshape(-1).cpu().numpy())
        model.train(was_training)
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def _pairs_on(engine, pairs: PairBank):
    """``pairs`` as the engine cuts them: a DevicePairBank when the engine keeps its
    images on the device (data.placement), the host PairBank otherwise."""
    if engine.placement_of(pairs.distorted) == "device":
        from ..data.pairs import DevicePairBank

        cached = getattr(engine, "_device_pairs", None)
        if cached is None or cached[0] is not pairs:
            engine._device_pairs = cached = (pairs, DevicePairBank(pairs, engine.device))
        return cached[1]
    return pairs


def _to_float(engine, crops):
    """B x H x W x 3 uint8 (numpy or a device tensor) -> float B x 3 x H x W in [0, 1] on
    the engine's device."""
    import torch

    if isinstance(crops, np.ndarray):
        crops = torch.from_numpy(crops).to(engine.device)
    return crops.permute(0, 3, 1, 2).float().div_(255.0).contiguous()


__all__ = ["PairMethod", "PairTrainSet"]
