"""Any pyiqa full-reference metric as a training-free FR baseline: ``--method
pyiqa-fr:NAME`` (e.g. ``pyiqa-fr:ssim``, ``pyiqa-fr:gmsd``).

Nothing is trained (the fold's training pairs are ignored): ``pyiqa.create_metric(NAME,
as_loss=False, device=cpu)`` scores each test pair, ``metric(distorted, reference)``, on
the whole decoded images at the profile's ``data.size`` (RGB in [0, 1]), streamed from the
decoded cache in batches of test.batch_size. Metrics pyiqa marks ``lower_better`` (GMSD,
NLPD, MAD, ...) are negated, so every prediction is higher = better (the record says
``lower_better``).

Offline as ``pyiqa:NAME`` (methods/zero_shot.py): a metric whose weights are not in the
local cache fails in one line naming the file and the folder. A metric that cannot score
images of data.size (MS-SSIM needs at least 176 px) is refused in one line naming it.
A pair whose score is not finite is rated like the worst test pair (``n_predict_fallback``).

On the synthetic sets, GMSD, NLPD and FSIM build the pseudo-MOS (the dataset's
``label_source``); the runner records that beside each such run, so reports mark them.
"""
from __future__ import annotations

import contextlib
import io
import sys

import numpy as np

from bench.core.errors import BenchError, UsageError
from bench.engine.method import FitContext
from bench.engine.pair_method import PairMethod
from bench.data.pyiqa_offline import MissingWeights, offline, weights_only_loads
from bench.methods.shared.pyiqa_names import check_name
from bench.core.registry import METHODS
from bench.methods.shared import no_network
from bench.methods.shared.no_network import oriented_scores

FAMILY = "pyiqa-fr"


def create_fr_metric(name: str):
    """``pyiqa.create_metric(name, as_loss=False, device='cpu')`` built offline (see
    bench.data.pyiqa_offline.offline); pyiqa's and torch.hub's printouts are passed on less their
    'Downloading: ...' lines (nothing is downloaded)."""
    import pyiqa

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                offline(f"{FAMILY}:{name}"), _hub_offline():
            return pyiqa.create_metric(name, as_loss=False, device="cpu")
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure to build it offline: one line
        import torch.hub
        from pyiqa.utils.download_util import DEFAULT_CACHE_DIR

        raise MissingWeights(
            f"{FAMILY}:{name} cannot be built offline ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); its weights are not all in the "
            f"local caches (pyiqa: {DEFAULT_CACHE_DIR}, torch: {torch.hub.get_dir()}, Hugging "
            "Face: $HF_HOME/hub); this harness never downloads") from None
    finally:
        shown = [ln for ln in (out.getvalue() + err.getvalue()).splitlines()
                 if ln.strip() and not ln.startswith("Downloading:")]
        if shown:
            print("\n".join(shown), file=sys.stderr)


@contextlib.contextmanager
def _hub_offline():
    """Hugging Face Hub lookups fail at once instead of retrying the network (timm
    backbones of some pyiqa metrics): its OFFLINE flag, read when a file is fetched, is set
    for the block."""
    try:
        from huggingface_hub import constants
    except ImportError:      # no hub client: nothing to keep offline
        yield
        return
    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def check_size(metric, name: str, size: int) -> None:
    """UsageError naming data.size when ``metric`` cannot score a size x size pair."""
    import torch

    x = torch.full((1, 3, size, size), 0.5)
    try:
        with torch.no_grad():
            metric(x, x.clone())
    except RuntimeError as exc:
        raise UsageError(f"--method {FAMILY}:{name} cannot score {size} px images (pyiqa: "
                         f"{str(exc).splitlines()[0][:90]}); raise data.size, e.g. --profile "
                         "paper or --set data.size=256") from None


class PyIQAFR(no_network.NoNetwork, PairMethod):
    """A pyiqa FR metric applied to the test pairs; ``metric_name`` is set per subclass."""

    metric_name = ""
    stateful = ()

    @classmethod
    def build_model(cls, cfg: dict, log=print):
        """No network is trained: an empty module stands in for the engine's model."""
        from torch import nn

        return nn.Identity(), "none"

    def fit(self, ctx: FitContext) -> list[float]:
        self.engine = ctx.engine
        self.metric = create_fr_metric(self.metric_name)
        check_size(self.metric, self.metric_name, ctx.train.bank.size)
        self.lower_better = bool(getattr(self.metric, "lower_better", False))
        self.facts = {"pyiqa_metric": self.metric_name, "lower_better": self.lower_better,
                      "trained": False, "input": f"whole image pair, {ctx.train.bank.size} px"}
        return []

    def predict_pairs(self, pairs, index: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Scores (float64 N, higher = better) of the pairs of distorted images ``index``
        (global indices into ``pairs``): whole decoded images, in batches."""
        import torch

        index = np.asarray(index, dtype=np.int64)
        out = []
        with torch.no_grad(), weights_only_loads(f"{FAMILY}:{self.metric_name}"):
            for a in range(0, len(index), max(1, batch_size)):
                idx = index[a:a + batch_size]
                ref = no_network.images(pairs.references, pairs.ref_of[idx])
                dist = no_network.images(pairs.distorted, idx)
                score = self.metric(_tensor(dist), _tensor(ref))
                out.append(np.asarray(score.detach().cpu().double(), dtype=np.float64).reshape(-1))
        return oriented_scores(out, self.lower_better, self.facts,
                               f"{FAMILY}:{self.metric_name}: no test pair got a finite score")


def _tensor(images: np.ndarray):
    """uint8 N x S x S x 3 -> float N x 3 x S x S in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def pyiqa_fr_method(name: str) -> type:
    """The method class of pyiqa FR metric ``name``; a one-line UsageError, with a
    suggestion across the pyiqa families, when pyiqa has no such full-reference metric
    (checked without importing pyiqa)."""
    check_name(FAMILY, name)
    return type(f"PyIQAFR[{name}]", (PyIQAFR,), {
        "metric_name": name, "display": f"{name.upper()} (pyiqa FR, training-free)",
        "__doc__": f"pyiqa's full-reference '{name}' metric, training-free."})


METHODS.register_family(FAMILY, pyiqa_fr_method)
pyiqa_fr_method.description = ("any full-reference metric of pyiqa, training-free, e.g. "
                               "pyiqa-fr:ssim, pyiqa-fr:gmsd (weights from pyiqa's local cache)")
