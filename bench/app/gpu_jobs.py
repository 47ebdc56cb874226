"""Several folds on one GPU (issue 20): `run --jobs N` with a CUDA device starts N processes
on that one device (bench/app/fold_workers.py shares the folds out); before they start,
a memory estimate per fold is checked against the device's free memory and N is lowered
to what fits (at least 1), with a line saying so.

The estimate (:func:`fold_bytes`) is deliberately rough and on the safe side: the image
bank when crops are cut on the device, the model's parameters times six (weights,
gradients, Adam's two moments, a meta step's snapshot and task sum), activations of the
largest batch a step may take (train.batch_size or any ``*batch`` method setting) at
``ACTIVATION_BYTES_PER_PIXEL`` of the backbone (halved under bf16), a CUDA context per
process, all times ``SAFETY``. The paper profile (ResNet-18 at 224 px, largest batch 102,
bf16): about 3.8 GiB a fold plus 1.25 x the bank (KADID-10k + TID2013 at 256 px: 2.6 GB).
"""
from __future__ import annotations

from typing import Callable, Optional

# training activations (forward kept for backward, fp32) per input pixel, bytes; measured
# orders of magnitude (ResNet-18 about 45 MB an image at 224 px), not exact figures
ACTIVATION_BYTES_PER_PIXEL = {"smallcnn": 150, "resnet18": 900, "resnet34": 1400,
                              "resnet50": 3400}
UNKNOWN_BACKBONE_BYTES_PER_PIXEL = 3400
CONTEXT_BYTES = 600 * 2**20     # CUDA context, cuDNN/cuBLAS workspaces, allocator slack
SAFETY = 1.25


def largest_batch(cfg: dict) -> int:
    """The largest batch a training step of ``cfg`` may take: train.batch_size or any
    integer (or map of integers) method setting whose name ends in 'batch'."""
    sizes = [int(cfg["train"]["batch_size"])]
    for key, value in (cfg.get("method_settings") or {}).items():
        if not str(key).endswith("batch"):
            continue
        values = value.values() if isinstance(value, dict) else [value]
        sizes += [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return max(sizes)


def fold_bytes(cfg: dict, bank_bytes: int, n_params: int, on_device: bool = True) -> int:
    """Estimated peak device memory of one fold's process, bytes (see the module doc).
    bank_bytes: the decoded images (kept on the device when ``on_device``); n_params: the
    model's parameter count."""
    backbone = cfg["model"]["backbone"]
    per_pixel = ACTIVATION_BYTES_PER_PIXEL.get(backbone, UNKNOWN_BACKBONE_BYTES_PER_PIXEL)
    if cfg.get("engine", {}).get("amp", "auto") != "off":
        per_pixel //= 2
    crop = int(cfg["data"]["crop"])
    activations = largest_batch(cfg) * crop * crop * per_pixel
    model = 6 * 4 * int(n_params)
    bank = int(bank_bytes) if on_device else 0
    return int(SAFETY * (bank + model + activations + CONTEXT_BYTES))


def jobs_that_fit(requested: int, per_fold: int, free: int) -> int:
    """Processes to start: ``requested``, lowered so that ``per_fold`` bytes each fit in
    ``free`` bytes; at least 1 (one fold runs even when the estimate says it may not fit)."""
    return max(1, min(int(requested), int(free) // max(1, int(per_fold))))


def free_device_memory(device) -> int:
    """Free bytes on CUDA ``device`` (torch.cuda.mem_get_info)."""
    import torch

    return int(torch.cuda.mem_get_info(torch.device(device))[0])


def pack_on_gpu(cfg: dict, jobs: int, bank_bytes: int, log: Callable[[str], None],
                free: Optional[Callable[[object], int]] = None,
                n_params: Optional[int] = None) -> int:
    """``jobs`` lowered to what fits on the run's one CUDA device (``free``: a free-memory
    function of the device, torch's by default; a test passes a fake one); logs the
    estimate when it lowers the count or packs several folds."""
    from ..engine.device import resolve_device

    if jobs <= 1:
        return jobs
    device = resolve_device(cfg["device"])
    if n_params is None:
        from ..engine.models import build_model

        model, _ = build_model(cfg["model"], lambda m: None)
        n_params = sum(p.numel() for p in model.parameters())
    on_device = cfg["data"].get("placement", "auto") != "host"
    per = fold_bytes(cfg, bank_bytes, n_params, on_device)
    avail = (free or free_device_memory)(device)
    got = jobs_that_fit(jobs, per, avail)
    log(f"{got} fold processes on {device} (about {per / 2**30:.1f} GiB each by estimate, "
        f"{avail / 2**30:.1f} GiB free" + (f"; --jobs {jobs} lowered to {got})" if got < jobs else ")"))
    return got
