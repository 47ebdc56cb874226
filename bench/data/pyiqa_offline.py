"""pyiqa without the network and without unpickling: :func:`offline` builds metrics with
downloads refused (:class:`MissingWeights` names the file and folder), other connections
refused and every ``torch.load`` weights-only; :func:`weights_only_loads` keeps the last
guard on while metrics score (pyiqa's own code passes ``weights_only=False`` in places, and
some metrics load files lazily). Used by the pyiqa methods and the synthetic pseudo-MOS."""
from __future__ import annotations

import contextlib
import os
import socket

from ..core.errors import BenchError


def _weights_only(real_load, label: str, raised: list):
    """``torch.load`` with ``weights_only=True`` forced; a file that needs arbitrary
    unpickling becomes a BenchError naming it (appended to ``raised``)."""

    def weights_only_load(f, *args, **kwargs):
        kwargs["weights_only"] = True
        try:
            return real_load(f, *args, **kwargs)
        except Exception as exc:
            if isinstance(exc, BenchError):
                raise
            raised.append(BenchError(f"{label}: {f} does not load as plain weights "
                                     f"(torch.load weights_only=True: {str(exc).splitlines()[0][:100]}); "
                                     "the harness never unpickles arbitrary objects"))
            raise raised[-1] from None

    return weights_only_load


@contextlib.contextmanager
def weights_only_loads(label: str):
    """Inside the block every ``torch.load`` runs with ``weights_only=True``; ``label``
    names the caller in the message when a file is refused."""
    import torch

    real = torch.load
    torch.load = _weights_only(real, label, [])
    try:
        yield
    finally:
        torch.load = real


class MissingWeights(BenchError):
    """A pyiqa metric's weights are not in the local cache (the harness never downloads)."""


@contextlib.contextmanager
def offline(label: str):
    """Build pyiqa metrics inside this block: downloads become :class:`MissingWeights`,
    network connections a BenchError, ``torch.load`` weights-only. ``label`` names the
    method in the messages."""
    import pyiqa.utils.download_util as dl
    import torch
    import torch.hub

    raised: list[BenchError] = []

    def no_download(url, dst, *args, **kwargs):
        folder, name = os.path.split(os.path.abspath(dst))
        raised.append(MissingWeights(
            f"{label}: weights file {name} is not in {folder}; this harness never downloads: "
            f"copy it there from a machine with network access ({url})"))
        raise raised[-1]

    def no_connect(sock, address, *args, **kwargs):
        raised.append(BenchError(f"{label}: pyiqa tried to reach the network ({address}); its "
                                 "weights are not all in the local cache (pyiqa: "
                                 f"{dl.DEFAULT_CACHE_DIR}, torch: {torch.hub.get_dir()})"))
        raise raised[-1]

    weights_only_load = _weights_only(torch.load, label, raised)

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    patches = [(dl, "download_url_to_file", no_download),
               (torch.hub, "download_url_to_file", no_download),
               (socket.socket, "connect", no_connect),
               (torch, "load", weights_only_load)]
    originals = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    try:
        os.environ.update({k: "1" for k in saved_env})
        for obj, attr, fn in patches:
            setattr(obj, attr, fn)
        try:
            yield
        except BenchError:
            raise
        except Exception:
            if raised:  # pyiqa wrapped our refusal in its own exception
                raise raised[0] from None
            raise
        if raised:      # pyiqa swallowed it and went on: still refuse
            raise raised[0]
    finally:
        for obj, attr, fn in originals:
            setattr(obj, attr, fn)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
