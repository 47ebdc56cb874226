"""What the deep no-reference baselines share: the harness backbone cut into its four stages
(multi-scale feature maps), input normalisation, an optimizer step with a loss of the
method's own, and :class:`DeepNR`, a method that trains its own network on MOS with ERM's
sampling and image budget (an epoch is the training-set size in images).

Backbones come from the harness's registry (``bench.engine.models.BACKBONES``) through
:func:`bench.engine.models.build_model`, so their initialisation follows the harness's rule:
ImageNet weights only from the local torch cache (or ``model.weights``), random otherwise,
and the run record says which.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from bench.core.errors import BenchError
from bench.engine.method import FitContext, Method
from bench.engine.models import IMAGENET_MEAN, IMAGENET_STD, SmallCNN
from bench.engine.samplers import BatchSampler
from bench.core.settings import Setting


class Normalize(nn.Module):
    """(x - ImageNet mean) / ImageNet std for N x 3 x H x W images in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Stages(nn.Module):
    """A harness backbone as four stages: ``forward(x)`` gives the four feature maps
    (N x C_k x H_k x W_k, k = 1..4, each half the previous side) of normalised images x.

    ResNets: layer1..layer4 after the stem (its classifier is dropped); the small CNN: its
    four conv-BN-ReLU stages. ``channels`` holds C_1..C_4."""

    def __init__(self, backbone: nn.Module, name: str):
        super().__init__()
        if all(hasattr(backbone, f"layer{k}") for k in range(1, 5)):
            b = backbone
            self.stem = nn.Sequential(b.conv1, b.bn1, b.relu, b.maxpool)
            self.blocks = nn.ModuleList([b.layer1, b.layer2, b.layer3, b.layer4])
        elif isinstance(backbone, SmallCNN):
            layers = list(backbone.features)
            per = len(layers) // 4
            self.stem = nn.Identity()
            self.blocks = nn.ModuleList([nn.Sequential(*layers[k * per:(k + 1) * per])
                                         for k in range(4)])
        else:
            raise BenchError(f"backbone {name}: the deep baselines need a backbone with four "
                             "stages (resnet18/34/50 or smallcnn); choose one of those with "
                             "--backbone or the method's backbone setting")
        self.channels = self._channels()

    def _channels(self) -> list[int]:
        was = self.training
        self.eval()
        with torch.no_grad():
            maps = self(torch.zeros(1, 3, 64, 64))
        self.train(was)
        return [int(m.shape[1]) for m in maps]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps, h = [], self.stem(x)
        for block in self.blocks:
            h = block(h)
            maps.append(h)
        return maps


def full_precision(x: torch.Tensor):
    """A block where autocast is off (on x's device type): the score computations run in
    fp32 under the engine's bf16 autocast, so predictions keep fp32 resolution (bf16 scores
    would tie and bias SROCC; the engine keeps IQANet's head in fp32 for the same reason)."""
    return torch.autocast(x.device.type, enabled=False)


def harness_backbone(cfg: dict, name: Optional[str], log: Callable[[str], None]) -> tuple:
    """(backbone module, init) of backbone ``name`` (None: the config's model.backbone),
    built and initialised exactly as the harness builds ERM's (the regression head it
    builds alongside is dropped)."""
    from bench.engine.models import build_model

    model_cfg = dict(cfg["model"])
    if name:
        model_cfg["backbone"] = name
    net, init = build_model(model_cfg, log)
    return net.backbone, init


def step_with_loss(engine, opt: torch.optim.Optimizer, ts, pos: np.ndarray,
                   loss_of: Callable[[torch.Tensor, np.ndarray], torch.Tensor]) -> float:
    """One optimizer step on the training crops of positions ``pos`` (the engine's random
    crops and flips) with the method's own loss ``loss_of(x, pos)`` (x: B x 3 x H x W in
    [0, 1]); counted in the engine's images_seen and optimizer_steps like Engine.step.
    Returns the loss (TrainingDiverged when it is not finite)."""
    x, _ = engine.batch(ts, pos)
    if engine.amp_dtype is None:
        loss = loss_of(x, pos)
    else:
        with torch.autocast(x.device.type, dtype=engine.amp_dtype):
            loss = loss_of(x, pos).float()
    return engine.apply(opt, loss, len(pos))


def _nullable(paper, kind: str, doc: str, low=None) -> Setting:
    return Setting(None, kind, doc, low=low, nullable=True, per_profile={"paper": paper})


def schedule_settings(epochs: int, lr: float, batch: int, step_epochs: int,
                      decay: float, weight_decay: float) -> dict:
    """The schedule settings of a deep baseline: null (the profile's train.*) except on
    the paper profile, where they are its own paper's (epochs, lr, batch, lr x decay every
    step_epochs epochs, Adam weight decay)."""
    return {
        "weight_decay": _nullable(weight_decay, "float", "Adam weight decay (null: "
                                  "train.weight_decay)", low=0),
        "epochs": _nullable(epochs, "int", "epochs (null: train.epochs)", low=1),
        "lr": _nullable(lr, "float", "Adam lr of the backbone (null: train.lr)", low=0),
        "batch_size": _nullable(batch, "int", "images per batch (null: train.batch_size)", low=1),
        "lr_step_epochs": _nullable(step_epochs, "int", "lr decays every this many epochs "
                                    "(null: train.lr_step_epochs)", low=1),
        "lr_decay": _nullable(decay, "float", "lr decay factor (null: train.lr_decay)", low=0),
    }


class DeepNR(Method):
    """A deep NR baseline trained like ERM on its own network: uniform minibatches of
    ``batch_size`` images, Adam (``param_groups``), the engine's inner step schedule, the
    ``loss`` setting. Subclasses give ``network(cfg, hp, log) -> (model, init)`` and
    optionally ``param_groups(model, lr)``."""

    stateful = ("optimizer", "sampler")
    epoch_unit = "images"
    parameters = 0

    @classmethod
    def build_model(cls, cfg: dict, log: Callable[[str], None] = print) -> tuple:
        """The method's own network for ``cfg`` (its settings resolved for the profile)."""
        return cls.network(cfg, cls(cfg).hp, log)

    @classmethod
    def network(cls, cfg: dict, hp: dict, log: Callable[[str], None]) -> tuple:  # pragma: no cover
        """(model, init): the network this method trains."""
        raise NotImplementedError

    def param_groups(self, model: nn.Module, lr: float) -> list:
        """Adam's parameter groups (one group at ``lr`` by default)."""
        return [{"params": list(model.parameters()), "lr": lr}]

    def weight_decay(self) -> float:
        wd = self.hp.get("weight_decay")
        return float(wd if wd is not None else self.cfg["train"]["weight_decay"])

    def lr(self) -> float:
        return float(self.hp["lr"] if self.hp.get("lr") is not None else self.cfg["train"]["lr"])

    def batch_size(self) -> int:
        b = self.hp.get("batch_size")
        return int(b if b is not None else self.cfg["train"]["batch_size"])

    def schedule(self) -> dict:
        own = {k: self.hp[k] for k in ("epochs", "lr_decay", "lr_step_epochs")
               if self.hp.get(k) is not None}
        return {**super().schedule(), **own}

    def setup(self, ctx: FitContext) -> None:
        e = ctx.engine
        self.parameters = count_parameters(e.model)
        groups = [{**g, "weight_decay": self.weight_decay()}
                  for g in self.param_groups(e.model, self.lr())]
        self.optimizer = e.adam(groups, self.lr())
        self.sampler = BatchSampler(np.arange(len(ctx.train)), self.batch_size(), e.rng)

    def iterations_per_epoch(self) -> int:
        return self.sampler.batches_per_pass

    def update(self, ctx: FitContext) -> float:
        return ctx.engine.step(self.optimizer, ctx.train, self.sampler.next(),
                               loss_kind=self.hp["loss"])

    def describe(self) -> dict:
        return {**super().describe(), "parameters": self.parameters, "lr": self.lr(), "batch_size": self.batch_size(),
                "weight_decay": self.weight_decay(), "loss": self.hp["loss"],
                "schedule": self.schedule()}


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
