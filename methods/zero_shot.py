"""Any pyiqa no-reference metric as a zero-shot entry: ``--method pyiqa:NAME`` (e.g.
``pyiqa:piqe``, ``pyiqa:musiq``).

Nothing is trained: ``pyiqa.create_metric(NAME, as_loss=False, device=cpu)`` scores each
fold's test images (the whole decoded image at the profile's ``data.size``, RGB in [0, 1]).
Metrics pyiqa marks ``lower_better`` are negated, so every prediction is higher = better and
SROCC/PLCC compare with the trained methods' (the record says which: ``lower_better``).

Offline by construction: while the metric is built, a download pyiqa (or torch.hub) would
start is stopped with one line naming the weights file and the folder it must be placed in
(pyiqa's cache, ``<torch hub dir>/pyiqa``), any other network connection is refused, and
every ``torch.load`` runs with ``weights_only=True`` (a checkpoint that needs arbitrary
unpickling is refused by name). A test image whose score is not finite is rated like the
worst test image, counted in ``n_predict_fallback``.
"""
from __future__ import annotations

import contextlib

import numpy as np

from bench.engine.method import FitContext, Method
from bench.data.pyiqa_offline import MissingWeights, offline, weights_only_loads  # noqa: F401 - re-exported
from bench.core.registry import METHODS
from bench.methods.shared import no_network
from bench.methods.shared.no_network import oriented_scores
from bench.methods.shared.pyiqa_names import check_name



def create_offline(name: str):
    """``pyiqa.create_metric(name, as_loss=False, device=cpu)`` built inside :func:`offline`;
    pyiqa's own printout is passed on less its 'Downloading: ...' line (nothing is)."""
    import io
    import sys

    import pyiqa

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), offline(f"pyiqa:{name}"):
            return pyiqa.create_metric(name, as_loss=False, device="cpu")
    finally:
        shown = [ln for ln in buf.getvalue().splitlines() if ln.strip()
                 and not ln.startswith("Downloading:")]
        if shown:
            print("\n".join(shown), file=sys.stderr)


class ZeroShot(no_network.NoNetwork, Method):
    """A pyiqa NR metric applied to the test images; ``metric_name`` is set per subclass."""

    metric_name = ""
    stateful = ()

    def fit(self, ctx: FitContext) -> list[float]:
        self.metric = create_offline(self.metric_name)
        self.lower_better = bool(getattr(self.metric, "lower_better", False))
        self.facts = {"pyiqa_metric": self.metric_name, "lower_better": self.lower_better,
                      "trained": False, "input": f"whole image, {ctx.train.bank.size} px"}
        return []

    def predict_images(self, bank, index: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Scores (float64 N, higher = better) of bank images ``index``."""
        import torch

        index = np.asarray(index, dtype=np.int64)
        out = []
        with torch.no_grad(), weights_only_loads(f"pyiqa:{self.metric_name}"):
            for a in range(0, len(index), max(1, batch_size)):
                x = torch.from_numpy(no_network.images(bank, index[a:a + batch_size])).permute(0, 3, 1, 2)
                score = self.metric(x.float() / 255.0)
                out.append(np.asarray(score.detach().cpu().float(), dtype=np.float64).reshape(-1))
        return oriented_scores(out, self.lower_better, self.facts,
                               f"pyiqa:{self.metric_name}: no test image got a finite score")


def pyiqa_method(name: str) -> type:
    """The method class of pyiqa NR metric ``name``; a one-line UsageError, with a
    suggestion across the pyiqa families, when pyiqa has no such per-image NR metric
    (checked without importing pyiqa)."""
    check_name("pyiqa", name)
    return type(f"PyIQA[{name}]", (ZeroShot,), {
        "metric_name": name, "display": f"{name.upper()} (pyiqa, zero-shot)",
        "__doc__": f"pyiqa's '{name}' metric, zero-shot (no training)."})


METHODS.register_family("pyiqa", pyiqa_method)
pyiqa_method.description = ("any per-image no-reference metric of pyiqa, zero-shot, e.g. "
                            "pyiqa:piqe, pyiqa:musiq (weights from pyiqa's local cache)")
