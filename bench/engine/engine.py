"""The engine's step machinery: the training set view (and its references), batches on the
device, the inner Adam, weighted losses, the one place an optimizer steps
(:meth:`Engine.apply`, with the budget counts and NaN checks), prediction.

A method's ``update`` calls :meth:`Engine.step` (one optimizer step on a batch) or
:meth:`Engine.apply` (its own losses); the epoch loop around it, with the learning-rate
schedule, is :func:`bench.engine.loop.train`. Nothing in this module knows any particular
method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from ..data.bank import ImageBank
from ..core.errors import TrainingDiverged, UsageError
from ..core.profiles import CORE_SETTINGS
from ..core.registry import Registry


@dataclass
class TrainSet:
    """The training images of a fold. Arrays have one entry per training item.

    index: global indices into ``bank``; mos: float32 targets in [0, 1]; dataset, dist_type,
    level, ref: per-item labels (ref qualified by dataset so references never collide);
    ref_images: ref key -> (dataset, first record with that key), where the reference file
    is found.
    """

    bank: ImageBank
    index: np.ndarray
    mos: np.ndarray
    dataset: list
    dist_type: list
    level: list
    ref: list
    ref_images: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def type_keys(self) -> list:
        """Per item (dataset, type): types of different datasets stay distinct."""
        return list(zip(self.dataset, self.dist_type))

    def reference_keys(self) -> list:
        """The distinct reference keys of the items, sorted (by their text)."""
        return sorted(set(self.ref), key=str)

    def reference_image(self, key) -> np.ndarray:
        """The reference image of ``key`` (S x S x 3 uint8, S = the bank's side): its file
        decoded where the release has one, else the first training image with that key
        (an authentic image is its own reference)."""
        ds, rec = self.ref_images.get(key, (None, None))
        if rec is not None and rec.ref_image:
            from pathlib import Path

            from ..data.cache import decode_image

            return decode_image(Path(ds.root) / rec.ref_image, self.bank.size)
        return self.bank.image(int(self.index[self.ref.index(key)]))


# Per-image losses by name (``train.loss``, a method's ``loss`` setting): (pred, y) -> B.
LOSSES: Registry = Registry("loss")
LOSSES.add("l1", lambda p, y: (p - y).abs())
LOSSES.add("mse", lambda p, y: (p - y) ** 2)


def setting(cfg: dict, dotted: str):
    """The config's value of a core key (its declared default for a hand-built config
    without it); values were checked by their Settings when the config was resolved."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return CORE_SETTINGS[dotted].default
        node = node[part]
    return node


def _flag(value, device: torch.device) -> bool:
    """'auto' -> on CUDA only; a boolean as given.

    On a CPU, auto keeps the plain path (NCHW, foreach Adam), whose numbers runs made before
    these options reproduce bit for bit. engine.channels_last=true is faster there too (the
    quick profile's step about 20% on a 2-core EPYC) but changes rounding, and CIS's meta
    Adam turns rounding differences into different runs (see tests/test_fast_path.py)."""
    return device.type == "cuda" if value == "auto" else bool(value)


def resolve_amp(amp, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``engine.amp`` on ``device``: 'auto' is bf16 on a GPU that
    supports it and none (fp32) elsewhere; 'bf16' asks for it; 'off' is fp32."""
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if amp == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError("engine.amp=bf16: this GPU has no bfloat16; use engine.amp=off")
        return torch.bfloat16
    return None


class AmpForward(nn.Module):
    """``model(x)`` under autocast to ``dtype`` (None: plain fp32). For an IQANet only the
    backbone runs in ``dtype``: the input normalisation and the regression head stay in
    fp32, so predictions keep fp32 resolution (bf16 scores would tie and bias SROCC)."""

    def __init__(self, model: nn.Module, dtype: Optional[torch.dtype]):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        if self.dtype is None:
            return m(x)
        from .models import IQANet

        if isinstance(m, IQANet):
            with torch.autocast(x.device.type, dtype=self.dtype):
                feats = m.backbone((x - m.mean) / m.std)
            return m.head(feats.float()).squeeze(1)
        with torch.autocast(x.device.type, dtype=self.dtype):
            return m(x).float()


class Engine:
    """Runs steps of a model on batches cut from an image bank.

    cfg: the resolved config; model: an IQANet; device: torch device.

    How it computes follows the config's ``engine`` tree: ``amp`` (bf16 autocast, auto =
    on GPUs that have it; the one option that changes the numbers beyond rounding),
    ``channels_last`` and ``fused`` (the Adam implementation; foreach otherwise), auto =
    on CUDA; ``compile`` (torch.compile, true or a backend name). ``data.placement`` says
    where crops are cut (auto: on the GPU from a resident copy of the arrays when it has
    room; see bench.data.device_bank).
    """

    def __init__(self, cfg: dict, model: nn.Module, device: torch.device,
                 rng: np.random.Generator, progress: Optional[Callable[[dict], None]] = None):
        from ..data.device_bank import HostStager

        self.cfg = cfg
        self.device = device = torch.device(device)
        self.rng = rng
        self.crop = cfg["data"]["crop"]
        self.flip = cfg["data"]["flip"]
        self.placement = setting(cfg, "data.placement")
        self.progress = progress or (lambda info: None)
        self.amp_dtype = resolve_amp(setting(cfg, "engine.amp"), device)
        self.channels_last = _flag(setting(cfg, "engine.channels_last"), device)
        self.fused = _flag(setting(cfg, "engine.fused"), device)
        self.model = model.to(device)
        # reproducible CUDA: AdaptiveAvgPool2d's backward is nondeterministic there
        self.mean_pools = 0
        if device.type == "cuda" and setting(cfg, "deterministic"):
            from .models import deterministic_pooling

            self.mean_pools = deterministic_pooling(self.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # what the steps call: the model itself unless autocast needs the wrapper
        self.net: Callable[[torch.Tensor], torch.Tensor] = (
            self.model if self.amp_dtype is None else AmpForward(self.model, self.amp_dtype))
        self.compiled = setting(cfg, "engine.compile")
        if self.compiled:
            kw = {} if self.compiled is True else {"backend": str(self.compiled)}
            self.net = torch.compile(self.net, **kw)
        self._stager = HostStager(device)
        self._small = HostStager(device, slots=8)   # targets and weights (pinned on CUDA)
        self._placed: dict = {}  # id(bank) -> (bank, 'device' | 'host')
        self._kept: dict = {}    # batch buffers step() reuses from step to step
        self._reuse = False      # True while step() cuts its batch
        self.test_view = setting(cfg, "test.view")
        self.images_seen = 0       # training images the steps have taken, all steps
        # what predicts when the method trains no network (its ``predict_images``): set by
        # the runner after fit; None: the model predicts
        self.predictor: Optional[Callable[[ImageBank, np.ndarray, int], np.ndarray]] = None
        self.optimizer_steps = 0   # calls of step(): one optimizer update each
        # called with the batch size after every step (bench speed's matched ERM steps)
        self.step_observers: list[Callable[[int], None]] = []
        # losses are read on the host once per epoch (by the loop) and, for the NaN check,
        # every train.read_losses_every optimizer steps (0: never here); until then their
        # sum stays on the device (a float64 0-dim tensor), so a step never waits for it
        self.read_every = int(setting(cfg, "train.read_losses_every"))
        self._window = None         # sum of the losses since the last read, on the device

    def describe(self) -> dict:
        """How this engine runs (for the run record): amp, memory format, Adam, compile,
        where crops are cut."""
        places = sorted({p for _, p in self._placed.values()})
        return {"amp": "bf16" if self.amp_dtype is torch.bfloat16 else "off",
                "channels_last": self.channels_last, "adam": "fused" if self.fused else "foreach",
                "compile": self.compiled, "placement": ",".join(places) or self.placement,
                **({"mean_pools": self.mean_pools} if self.mean_pools else {})}

    # ------------------------------------------------------------------ batches
    def placement_of(self, bank: ImageBank) -> str:
        """'device' or 'host': where this engine cuts crops of ``bank`` (decided once)."""
        from ..data.device_bank import choose_placement

        got = self._placed.get(id(bank))
        if got is None or got[0] is not bank:
            got = (bank, choose_placement(self.placement, bank, self.device))
            self._placed[id(bank)] = got
        return got[1]

    def crops(self, bank: ImageBank, idx: np.ndarray) -> torch.Tensor:
        """Random training crops (and flips) of images ``idx``: B x H x W x 3 uint8 on the
        device, cut there from the resident bank or on the host and copied."""
        if self.placement_of(bank) == "device":
            from ..data.device_bank import DeviceBank

            return DeviceBank.of(bank, self.device).random_crops(idx, self.crop, self.rng, self.flip)
        out = None
        if self._reuse and self.device.type == "cpu":
            out = self._buffer("crops", (len(idx), self.crop, self.crop, 3), torch.uint8).numpy()
        return self._stager.random_crops(bank, idx, self.crop, self.rng, self.flip, out=out)

    def test_images(self, bank: ImageBank, idx: np.ndarray) -> torch.Tensor:
        """The test view of images ``idx`` (test.view): B x crop x crop x 3 uint8 on the
        device, the whole image resized ('resize') or its central crop ('center')."""
        if self.test_view == "center":
            return self.center_crops(bank, idx)
        if self.placement_of(bank) == "device":
            from ..data.device_bank import DeviceBank

            return DeviceBank.of(bank, self.device).resized_images(idx, self.crop)
        return self._stager.resized_images(bank, idx, self.crop)

    def center_crops(self, bank: ImageBank, idx: np.ndarray) -> torch.Tensor:
        """Central test crops of ``idx``: B x H x W x 3 uint8 on the device."""
        if self.placement_of(bank) == "device":
            from ..data.device_bank import DeviceBank

            return DeviceBank.of(bank, self.device).center_crops(idx, self.crop)
        return self._stager.center_crops(bank, idx, self.crop)

    def to_float(self, crops: torch.Tensor) -> torch.Tensor:
        """B x H x W x 3 uint8 on the device -> B x 3 x H x W float in [0, 1] there
        (channels-last strides when the engine uses that format)."""
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        b, h, w, c = crops.shape
        out = self._buffer("x", (b, c, h, w), torch.float32, fmt)
        # one kernel (uint8 -> float and / 255 fused; the same bits as .float().div_(255)):
        # on a busy 2-core CPU two parallel kernels cost 5-10x one
        return torch.div(crops.permute(0, 3, 1, 2), 255.0, out=out)

    def _buffer(self, key: str, shape: tuple, dtype: torch.dtype,
                fmt: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
        """A new tensor; while step() cuts its batch, a view of a buffer kept from step to
        step instead (a step's batch is dead once its backward has run). On a CPU fresh
        1-2 MB blocks every step cost page faults (glibc returns them to the system each
        time): about 4% of the quick profile's step."""
        if not self._reuse:
            return torch.empty(shape, dtype=dtype, device=self.device, memory_format=fmt)
        buf = self._kept.get(key)
        if buf is None or buf.shape[0] < shape[0] or tuple(buf.shape[1:]) != tuple(shape[1:]):
            buf = torch.empty(shape, dtype=dtype, device=self.device, memory_format=fmt)
            self._kept[key] = buf
        return buf[:shape[0]]

    def batch(self, ts: TrainSet, pos: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, targets) for training positions ``pos``: random crops and flips."""
        x = self.to_float(self.crops(ts.bank, ts.index[pos]))
        return x, self.upload(ts.mos[pos])

    def upload(self, array: np.ndarray, dtype=None) -> torch.Tensor:
        """A host array (cast to numpy ``dtype`` first when given) as a tensor on the
        device: wrapped on a CPU; on a GPU through a pinned buffer and a non-blocking copy
        (never a blocking copy from pageable memory)."""
        a = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
        return self._small.upload(a)

    # ------------------------------------------------------------------ optimisation
    def adam(self, param_groups, lr: float) -> torch.optim.Optimizer:
        """The inner Adam with the config's betas (fused implementation when
        ``self.fused``, on CUDA by default; foreach otherwise)."""
        t = self.cfg["train"]
        impl = {"fused": True} if self.fused else {"foreach": True}
        return torch.optim.Adam(param_groups, lr=lr, betas=tuple(t["betas"]),
                                weight_decay=t["weight_decay"], **impl)

    def loss(self, pred: torch.Tensor, y: torch.Tensor, weights: Optional[torch.Tensor] = None,
             kind: Optional[str] = None) -> torch.Tensor:
        """Mean per-image loss, or sum(weights * loss) when ``weights`` (summing to 1) given."""
        per = LOSSES[kind or self.cfg["train"]["loss"]](pred, y)
        return per.mean() if weights is None else (per * weights).sum()

    def step(self, opt: torch.optim.Optimizer, ts: TrainSet, pos: np.ndarray,
             weights: Optional[np.ndarray] = None, loss_kind: Optional[str] = None) -> float:
        """One optimizer step on the batch ``pos`` (optionally Eq. 6 weighted); the loss."""
        self._reuse = True
        try:
            x, y = self.batch(ts, pos)
        finally:
            self._reuse = False
        w = None if weights is None else self.upload(weights, np.float32)
        loss = self.loss(self.net(x), y, w, loss_kind)
        return self.apply(opt, loss, len(pos))

    def apply(self, opt, loss, n: int) -> torch.Tensor:
        """Backward ``loss`` and take one step of ``opt``, counting ``n`` images seen and one
        optimizer step (the budget every run records) and telling the step observers;
        returns the loss as a detached float64 0-dim tensor on the device, NOT read on the
        host (``float()`` of it waits for the GPU; the loop reads an epoch's losses at once).
        Every train.read_losses_every steps the losses since the last check are read once:
        TrainingDiverged when one was not finite (and at the end of every epoch, by the loop).

        ``loss`` is a scalar tensor, or an iterable of them (a generator computing each
        when asked): their gradients accumulate, one backward pass each, before the one
        step, and the returned loss is their sum (a method weights the parts)."""
        opt.zero_grad(set_to_none=True)
        value = None
        for part in ([loss] if isinstance(loss, torch.Tensor) else loss):
            part.backward()
            # float64 on the device: the same sum as adding the parts' floats on the host
            v = part.detach().double()
            value = v if value is None else value + v
        opt.step()
        self.images_seen += int(n)
        self.optimizer_steps += 1
        for observe in self.step_observers:
            observe(int(n))
        self._watch(value)
        return value

    def _watch(self, value: torch.Tensor) -> None:
        """Add ``value`` to the unread window; every ``read_every`` steps read the window
        once and raise TrainingDiverged when it is not finite."""
        self._window = value if self._window is None else self._window + value
        if self.read_every and self.optimizer_steps % self.read_every == 0:
            window, self._window = self._window, None
            if not bool(torch.isfinite(window)):
                raise TrainingDiverged(
                    f"training loss became {float(window)} within the {self.read_every} "
                    f"optimizer steps before step {self.optimizer_steps}; the run stops without "
                    "a done marker (lower train.lr or check the data)")

    @staticmethod
    def check(loss: torch.Tensor) -> float:
        """The loss as a float; TrainingDiverged when it is NaN or infinite."""
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"training loss became {value}; the run stops without a done "
                                   "marker (lower train.lr or check the data)")
        return value

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict(self, bank: ImageBank, index: np.ndarray, batch_size: int) -> np.ndarray:
        """Predicted scores (float64, length N) of images ``index``, each seen in the test
        view (test.view: the whole image resized to data.crop, or its centre crop); by the
        method's own ``predict_images`` when it trains no network (``self.predictor``)."""
        if self.predictor is not None:
            return np.asarray(self.predictor(bank, index, batch_size), dtype=np.float64)
        self.model.eval()
        out = []
        for i in range(0, len(index), batch_size):
            x = self.to_float(self.test_images(bank, index[i:i + batch_size]))
            out.append(self.net(x).float())
        self.model.train()
        # one read for all batches (the GPU runs ahead of the host until here)
        return torch.cat(out).cpu().numpy().astype(np.float64) if out else np.zeros(0)
