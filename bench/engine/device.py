"""The torch device a run asks for (``device``: auto, cpu, cuda or cuda:K)."""
from __future__ import annotations

from ..core.errors import UsageError


def resolve_device(name: str):
    """torch.device for 'auto' | 'cpu' | 'cuda[:k]'; UsageError if CUDA is asked but absent."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UsageError(f"--device must be cpu, cuda or auto, not '{name}'")
    return torch.device(name)
