"""Where training crops are cut: on the device from a resident copy of the decoded arrays,
or on the host (pinned staging buffers and non-blocking copies when the device is a GPU).

* :class:`DeviceBank` holds every image of an :class:`~bench.data.bank.ImageBank` as ONE
  uint8 tensor N x S x S x 3 on the device (copied there once, in chunks) and cuts a whole
  batch of random crops with flips in one advanced-indexing gather: no Python loop over
  images. Its random draws are :func:`~bench.data.bank.draw_crops`' on the host generator,
  the ones ``ImageBank.random_crops`` makes, so for the same generator state both give
  byte-identical crops (the tests check this with CPU tensors).
* :class:`HostStager` cuts crops with ``ImageBank.random_crops`` into a ring of pinned
  host buffers and copies them with ``non_blocking=True``; an event per buffer keeps a
  buffer from being rewritten while its copy is in flight. On a CPU device it is the
  plain path (no pinning, no copy).
* :func:`choose_placement` picks one: ``data.placement`` = ``device`` | ``host`` | ``auto``
  (auto: device when it is a GPU with room for the arrays beside training, see
  :func:`fits_on_device`). A device bank is shared by every engine of the process that
  uses the same image bank on the same device (the arrays go to the GPU once).

torch is imported by the functions that need it: ``bench.data`` stays light.
"""
from __future__ import annotations

import weakref
from typing import Optional

import numpy as np

from .bank import ImageBank, draw_crops, resize_images

PLACEMENTS = ("auto", "device", "host")
# Room the arrays must leave free on the GPU for the model, activations and optimizer:
# the larger of this many bytes and this share of the device's memory.
DEVICE_RESERVE_BYTES = 4 << 30
DEVICE_RESERVE_SHARE = 0.25
UPLOAD_CHUNK_BYTES = 256 << 20


def bank_nbytes(bank: ImageBank) -> int:
    """Bytes of all the bank's decoded arrays."""
    return int(sum(a.nbytes for a in bank.arrays))


def fits_on_device(nbytes: int, device) -> bool:
    """True when ``nbytes`` of images fit on CUDA ``device`` and still leave the reserve
    free (max of DEVICE_RESERVE_BYTES and DEVICE_RESERVE_SHARE of its memory) for
    training; estimated from ``torch.cuda.mem_get_info``. False for any other device."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return False
    free, total = torch.cuda.mem_get_info(device)
    reserve = max(DEVICE_RESERVE_BYTES, int(DEVICE_RESERVE_SHARE * total))
    return nbytes + reserve <= free


def choose_placement(placement: str, bank: ImageBank, device) -> str:
    """'device' or 'host' for ``data.placement`` on ``device``.

    auto: device when ``device`` is a GPU with room (or already holds this bank), else
    host; on a CPU, host (the arrays are in host memory already). device/host: as asked
    (device on a CPU cuts with torch indexing from a tensor copy: only useful to test the
    GPU path on a CPU)."""
    import torch

    if placement not in PLACEMENTS:
        from ..core.errors import UsageError

        raise UsageError(f"data.placement must be one of {', '.join(PLACEMENTS)}, not {placement!r}")
    if placement != "auto":
        return placement
    if torch.device(device).type != "cuda":
        return "host"
    device = _normalised(device)
    if _cached(bank, device) is not None:
        return "device"
    return "device" if fits_on_device(bank_nbytes(bank), device) else "host"


# --------------------------------------------------------------------------- the gather
def crop_grid(ys, xs, flips, crop: int):
    """Row and column indices (B x crop each, int64 tensors on the device of ``ys``) of
    B crops with top-left corners (ys, xs); columns run backwards where ``flips``."""
    import torch

    j = torch.arange(crop, device=ys.device)
    rows = ys[:, None] + j
    cols = xs[:, None] + torch.where(flips[:, None], crop - 1 - j, j)
    return rows, cols


def gather_crops(images, idx, ys, xs, flips, crop: int):
    """B x crop x crop x 3 crops of ``images`` (N x S x S x 3 tensor) in one gather:
    image idx[b], rows ys[b] .., columns xs[b] .. (mirrored where flips[b]). Index
    tensors live on the device of ``images``."""
    rows, cols = crop_grid(ys, xs, flips, crop)
    return images[idx[:, None, None], rows[:, :, None], cols[:, None, :]]


class DeviceBank:
    """The images of ``bank`` resident on ``device`` as one N x S x S x 3 uint8 tensor.

    Use :meth:`of` to get the shared instance for a bank and device.
    """

    def __init__(self, bank: ImageBank, device):
        import torch

        self.device = torch.device(device)
        self.size = bank.size
        self._stage = HostStager(self.device, slots=4)   # index arrays
        n = len(bank)
        self.images = torch.empty((n, bank.size, bank.size, 3), dtype=torch.uint8, device=self.device)
        at = 0
        for arr in bank.arrays:  # copy chunk by chunk: no host-side concatenation
            per = max(1, UPLOAD_CHUNK_BYTES // max(1, arr[0].nbytes if len(arr) else 1))
            for a in range(0, len(arr), per):
                chunk = torch.from_numpy(np.array(arr[a:a + per]))  # memmaps are read-only
                self.images[at + a:at + a + len(chunk)].copy_(chunk)
            at += len(arr)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @classmethod
    def of(cls, bank: ImageBank, device) -> "DeviceBank":
        """The device bank of ``bank`` on ``device``, built (uploaded) on first use and
        shared while ``bank`` lives."""
        device = _normalised(device)
        found = _cached(bank, device)
        if found is None:
            found = cls(bank, device)
            _DEVICE_BANKS.setdefault(bank, {})[str(device)] = found
        return found

    @property
    def nbytes(self) -> int:
        return self.images.numel()

    def _indices(self, *arrays) -> list:
        """Host index arrays to the device in ONE copy (rows of an int64 matrix), from a
        pinned buffer on CUDA (so the copy does not block)."""
        packed = np.stack([np.asarray(a, dtype=np.int64) for a in arrays])
        return list(self._stage.upload(packed).unbind(0))

    def cut(self, idx: np.ndarray, ys: np.ndarray, xs: np.ndarray, flips: np.ndarray, crop: int):
        """B x crop x crop x 3 uint8 crops on the device (the gather of :func:`gather_crops`)."""
        i, y, x, f = self._indices(idx, ys, xs, flips)
        return gather_crops(self.images, i, y, x, f.bool(), crop)

    def random_crops(self, idx: np.ndarray, crop: int, rng: np.random.Generator, flip: bool = True):
        """Random crops with flips, as ``ImageBank.random_crops`` (same draws, same bytes),
        cut on the device; a B x crop x crop x 3 uint8 tensor there."""
        ys, xs, flips = draw_crops(len(idx), self.size, crop, rng, flip)
        return self.cut(idx, ys, xs, flips, crop)

    def center_crops(self, idx: np.ndarray, crop: int):
        """Central crops of ``idx``, as ``ImageBank.center_crops``; a tensor on the device."""
        (i,) = self._indices(idx)
        o = (self.size - crop) // 2
        return self.images[i, o:o + crop, o:o + crop]

    def resized_images(self, idx: np.ndarray, side: int):
        """The whole images ``idx`` resized to side x side; a B x side x side x 3 uint8
        tensor on the device. On a GPU by :func:`resize_on_device` (antialiased bicubic in
        torch, within 1-2 grey levels of PIL's: see there); elsewhere as
        ``ImageBank.resized_images`` (the same bytes: PIL's bicubic on the host), so CPU
        numbers do not depend on the placement."""
        import torch

        (i,) = self._indices(idx)
        if self.device.type == "cuda":
            return resize_on_device(self.images[i], side)
        host = self.images[i].cpu().numpy()
        return torch.from_numpy(resize_images(host, side)).to(self.device)


def resize_on_device(images, side: int):
    """B x H x W x 3 uint8 images (a tensor, any device) resized to B x side x side x 3
    uint8 there, the way PIL's BICUBIC resize does it: antialiased bicubic (a = -0.5, the
    kernel widened when shrinking), the horizontal pass first, rounded and clipped to
    uint8 between the passes. PIL computes in fixed point, this in float32: on the tests'
    images (tests/test_gpu_path.py) at most 1 grey level apart when shrinking (about 0.2%
    of the values differ) and 2 when enlarging (about 2%). Images already side x side
    come back unchanged (a copy)."""
    import torch
    import torch.nn.functional as F

    b, h, w, _ = images.shape
    if (h, w) == (side, side):
        return images.clone()
    x = images.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(h, side), mode="bicubic", antialias=True, align_corners=False)
    x = x.round_().clamp_(0, 255)
    x = F.interpolate(x, size=(side, side), mode="bicubic", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


_DEVICE_BANKS: "weakref.WeakKeyDictionary[ImageBank, dict]" = weakref.WeakKeyDictionary()


def _normalised(device):
    """torch.device with the index filled in for CUDA ('cuda' -> 'cuda:<current>')."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def _cached(bank: ImageBank, device) -> Optional[DeviceBank]:
    return _DEVICE_BANKS.get(bank, {}).get(str(device))


def release_device_banks() -> None:
    """Drop every cached device bank (frees their device memory once unreferenced)."""
    _DEVICE_BANKS.clear()


class HostStager:
    """Host-side crops moved to ``device``: cut by ``ImageBank`` into a ring of ``slots``
    pinned buffers (on CUDA) and copied with ``non_blocking=True``. Before a buffer is
    rewritten the event recorded after its last copy is waited on, so a copy in flight
    never sees the next batch's bytes. On a CPU the crops are wrapped without a copy."""

    def __init__(self, device, slots: int = 2):
        import torch

        self.device = torch.device(device)
        self.pin = self.device.type == "cuda"
        self.slots = slots
        self._bufs: list = []          # torch uint8 tensors (pinned on CUDA)
        self._events: list = []        # CUDA event of each buffer's last copy, or None
        self._turn = 0

    def _buffer(self, shape: tuple):
        """A free staging buffer view of ``shape`` (the ring grows when a batch is larger)."""
        import torch

        need = int(np.prod(shape))
        k = self._turn
        self._turn = (self._turn + 1) % self.slots
        if len(self._bufs) < self.slots:
            self._bufs.append(None)
            self._events.append(None)
        if self._events[k] is not None:
            self._events[k].synchronize()
            self._events[k] = None
        if self._bufs[k] is None or self._bufs[k].numel() < need:
            self._bufs[k] = torch.empty(need, dtype=torch.uint8, pin_memory=self.pin)
        return k, self._bufs[k][:need].view(shape)

    def _send(self, k: int, buf):
        """Copy staging buffer ``k`` to the device without blocking; remember its event."""
        import torch

        x = buf.to(self.device, non_blocking=True)
        ev = torch.cuda.Event()
        ev.record()
        self._events[k] = ev
        return x

    def random_crops(self, bank: ImageBank, idx: np.ndarray, crop: int,
                     rng: np.random.Generator, flip: bool = True, out: Optional[np.ndarray] = None):
        """``bank.random_crops`` on the device: a B x crop x crop x 3 uint8 tensor there.
        ``out``: a host array to cut into when the device is the CPU (ignored otherwise)."""
        import torch

        if not self.pin:
            return torch.from_numpy(bank.random_crops(idx, crop, rng, flip, out=out)).to(self.device)
        k, buf = self._buffer((len(idx), crop, crop, 3))
        bank.random_crops(idx, crop, rng, flip, out=buf.numpy())
        return self._send(k, buf)

    def resized_images(self, bank: ImageBank, idx: np.ndarray, side: int):
        """``bank.resized_images`` on the device."""
        import torch

        if not self.pin:
            return torch.from_numpy(bank.resized_images(idx, side)).to(self.device)
        k, buf = self._buffer((len(idx), side, side, 3))
        buf.numpy()[:] = bank.resized_images(idx, side)
        return self._send(k, buf)

    def upload(self, array: np.ndarray):
        """A host array of any dtype on the device: wrapped without a copy on a CPU (as
        ``torch.from_numpy``); on CUDA through a pinned ring buffer, non-blocking."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(array))
        if not self.pin:
            return t.to(self.device)
        k, buf = self._buffer((max(1, t.numel()) * t.element_size(),))
        host = buf[:t.numel() * t.element_size()].view(t.dtype).view(t.shape)
        host.copy_(t)
        return self._send(k, host)

    def center_crops(self, bank: ImageBank, idx: np.ndarray, crop: int):
        """``bank.center_crops`` on the device."""
        import torch

        if not self.pin:
            return torch.from_numpy(bank.center_crops(idx, crop)).to(self.device)
        k, buf = self._buffer((len(idx), crop, crop, 3))
        buf.numpy()[:] = bank.center_crops(idx, crop)
        return self._send(k, buf)
