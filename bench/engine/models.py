"""Networks: a backbone registry (torchvision ResNet-18/34/50, a small CNN for the smoke
and quick profiles) and the MetaIQA regression head.

Input: float images N x 3 x H x W in [0, 1]; the model normalises with ImageNet
statistics itself. Output: N predicted scores in [0, 1] (sigmoid).
ImageNet weights come only from the torch cache ($TORCH_HOME/hub/checkpoints) or a file
given with ``model.weights``; they are never downloaded. Without them the backbone is
randomly initialised and the run record says so, unless ``model.pretrained`` is true (the
paper profile's default): then a missing checkpoint is a one-line usage error naming the
file, the folder and ``--weights`` (:func:`missing_weights`), before anything runs. A
run's identity holds the digest of every weights file it loads (:func:`file_digest`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from ..core.errors import BenchError, UsageError
from ..core.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU stages (stride 2) and global average pooling; ``out_features``=128."""

    def __init__(self, width: int = 16):
        super().__init__()
        chans = [3, width, width * 2, width * 4, width * 8]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.out_features = chans[-1]

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


class GlobalMeanPool(nn.Module):
    """B x C x H x W -> B x C x 1 x 1 by a mean over H and W: what AdaptiveAvgPool2d(1)
    computes, with a deterministic backward on CUDA (AdaptiveAvgPool2d's uses atomic adds,
    so deterministic runs could not repeat bit for bit; see docs/gpu.md)."""

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


def deterministic_pooling(model: nn.Module) -> int:
    """Replace every AdaptiveAvgPool2d with output size 1 in ``model`` by
    :class:`GlobalMeanPool` (same parameters: none); the number replaced. The engine does
    this on CUDA when determinism is on; CPU models are left as built."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            size = getattr(child, "output_size", None)
            if isinstance(child, nn.AdaptiveAvgPool2d) and size in (1, (1, 1)):
                setattr(parent, name, GlobalMeanPool())
                swapped += 1
    return swapped


def _torchvision_resnet(arch: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        net = getattr(torchvision.models, arch)(weights=None)
        net.out_features = net.fc.out_features  # keeps the 1000-way fc, as MetaIQA does
        return net

    build.arch = arch
    return build


# Backbones by name (``model.backbone``); a plug-in adds one with BACKBONES.add(name, builder).
BACKBONES: Registry = Registry("backbone")
BACKBONES.add("smallcnn", SmallCNN)
for _arch in ("resnet18", "resnet34", "resnet50"):
    BACKBONES.add(_arch, _torchvision_resnet(_arch))


def checkpoint_name(arch: str) -> Optional[str]:
    """File name of torchvision's ImageNet checkpoint for ``arch`` ('resnet18-f37072fd.pth'
    for ResNet-18), None for a backbone without one."""
    import torchvision

    enum = getattr(torchvision.models, f"ResNet{arch[len('resnet'):]}_Weights", None)
    return None if enum is None else enum.IMAGENET1K_V1.url.rsplit("/", 1)[-1]


def checkpoint_folder() -> Path:
    """The folder ImageNet checkpoints are read from: $TORCH_HOME/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_checkpoint(arch: str) -> Optional[Path]:
    """Path of torchvision's ImageNet checkpoint for ``arch`` in the torch hub cache, if
    it is there (never downloads)."""
    filename = checkpoint_name(arch)
    if filename is None:
        return None
    path = checkpoint_folder() / filename
    return path if path.is_file() else None


def imagenet_weights(arch: str, model_cfg: dict) -> Optional[Path]:
    """The ImageNet weights of ``arch`` a run of ``model_cfg`` uses: its ``model.weights``
    file when its backbone is ``arch`` (``--weights`` serves every user of that network,
    e.g. a method's content features), else the torch cache's checkpoint; None when
    neither is there."""
    if model_cfg.get("weights") and model_cfg.get("backbone") == arch:
        return Path(model_cfg["weights"]).expanduser()
    return imagenet_checkpoint(arch)


def missing_weights(arch: str, needed_by: str) -> UsageError:
    """The one-line error of a strict run (``model.pretrained=true``, the paper profile)
    whose ImageNet weights of ``arch`` are missing: the file, the folder and the options."""
    name = checkpoint_name(arch)
    what = f"torchvision's {name}" if name else f"a state-dict file for {arch}"
    return UsageError(f"ImageNet weights for {arch} ({needed_by}) are missing: put {what} in "
                      f"{checkpoint_folder()} ($TORCH_HOME/hub/checkpoints) or pass --weights "
                      "FILE; to train from random init say --set model.pretrained=false")


def backbone_weights(model_cfg: dict) -> Optional[Path]:
    """The weights file :func:`build_model` loads into the backbone of ``model_cfg``, None
    when it starts from random init; UsageError (:func:`missing_weights`) when
    ``model.pretrained`` is true and there is none."""
    name = model_cfg["backbone"]
    if model_cfg.get("weights"):
        return Path(model_cfg["weights"]).expanduser()
    pretrained = model_cfg.get("pretrained", "auto")
    ckpt = imagenet_checkpoint(name) if pretrained in ("auto", True) else None
    if ckpt is None and pretrained is True:
        raise missing_weights(name, "the backbone")
    return ckpt


_DIGESTS: dict = {}


def file_digest(path: Path) -> str:
    """'sha256:<16 hex>' of a weights file's bytes (cached per path, size and mtime)."""
    import hashlib

    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = "sha256:" + h.hexdigest()[:16]
    return _DIGESTS[key]


def load_backbone_weights(net: nn.Module, path: Path) -> None:
    """Load a state dict from ``path`` (weights_only=True); BenchError naming the file on
    a bad or mismatched file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise BenchError(f"cannot load backbone weights from {path}: {exc}. Give a torchvision "
                         "state-dict file for this backbone with --weights") from None


class MetaIQAHead(nn.Sequential):
    """FC in-d0, BN, PReLU, Dropout, FC d0-d1, BN, PReLU, Dropout, FC d1-1, sigmoid
    (the paper's network 'constructed following MetaIQA'; d0, d1 = 1024, 512)."""

    def __init__(self, in_features: int, dims=(1024, 512), dropout: float = 0.5):
        layers = []
        prev = in_features
        for d in dims:
            layers += [nn.Linear(prev, d), nn.BatchNorm1d(d), nn.PReLU(), nn.Dropout(dropout)]
            prev = d
        layers += [nn.Linear(prev, 1), nn.Sigmoid()]
        super().__init__(*layers)


class IQANet(nn.Module):
    """Backbone + MetaIQA head; ``forward(x)`` maps N x 3 x H x W in [0, 1] to N scores."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        return self.head(self.backbone((x - self.mean) / self.std)).squeeze(1)


_SAID: set = set()


def check_model_config(model_cfg: dict) -> None:
    """UsageError for an unknown backbone or a missing --weights file (checked before any
    data is read; :func:`build_model` checks again)."""
    BACKBONES.get(model_cfg["backbone"])   # unknown: the choices and a "did you mean"
    if model_cfg.get("weights") and not Path(model_cfg["weights"]).expanduser().is_file():
        raise UsageError(f"--weights {model_cfg['weights']}: no such file")


def build_model(model_cfg: dict, log: Callable[[str], None] = print) -> tuple[IQANet, str]:
    """Build the network of ``model_cfg`` (the config's ``model`` tree).

    Returns (model, init) where init says how the backbone was initialised:
    'imagenet:<file>', 'file:<path>' or 'random'.
    """
    name = model_cfg["backbone"]
    BACKBONES.get(name)
    # model.width: the small CNN's first-stage channels (the ResNets have their own widths)
    backbone = SmallCNN(int(model_cfg.get("width", 16))) if name == "smallcnn" else BACKBONES[name]()
    init = "random"
    if model_cfg.get("weights"):
        path = Path(model_cfg["weights"]).expanduser()
        if not path.is_file():
            raise UsageError(f"--weights {path}: no such file")
        load_backbone_weights(backbone, path)
        init = f"file:{path}"
    elif name.startswith("resnet") and model_cfg.get("pretrained", "auto") in ("auto", True):
        ckpt = imagenet_checkpoint(name)
        if ckpt is not None:
            load_backbone_weights(backbone, ckpt)
            init = f"imagenet:{ckpt.name}"
        elif model_cfg.get("pretrained") is True:
            raise missing_weights(name, "the backbone")
        elif name not in _SAID:  # said once per process, not once per fold
            _SAID.add(name)
            log(f"ImageNet weights for {name} are not in the torch cache ({torch.hub.get_dir()}"
                "/checkpoints); the backbone starts from random init. Put torchvision's "
                f"checkpoint there or pass --weights FILE.")
    head = MetaIQAHead(backbone.out_features, tuple(model_cfg["head_dims"]), model_cfg["dropout"])
    return IQANet(backbone, head), init
