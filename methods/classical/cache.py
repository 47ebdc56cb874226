"""The per-image feature cache of the classical methods: each feature computed once per
decoded array (one dataset at one size) and kept on disk under ``<cache>/features/``.

Key: ``<kind>-v<FEATURE_VERSION>-<array>[-<model>].npz`` where ``<array>`` is the decoded
cache's own file stem (``<dataset>-<size>px-<digest of the file list, sizes and mtimes>``,
see :mod:`bench.data.cache`), or for an in-memory array a sha256 of its bytes; ``<model>``
is the digest of what the feature depends on besides the image (a codebook, a NIQE
pristine model: both seeded, so the seed is in it). Values are stored as float32 with the
number of fallback (NaN) rows; written atomically under a per-key lock, so concurrent
workers compute a feature once. A file that does not load or does not match its array is
recomputed with a one-line notice.

Files of an older FEATURE_VERSION are never read (their names differ) and not removed here.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.core.atomic import file_lock, write_bytes_atomic
from bench.data.paths import cache_root, owned_path

from .brisque import Extracted

FOLDER = "features"
CHUNK = 64           # images per extraction call (progress granularity)
_MEMO: OrderedDict[str, Extracted] = OrderedDict()
MEMO_ENTRIES = 8     # in-process copies kept (HOSA: 1,500 x 4,704 float64 = 56 MB each)


def array_identity(arr: np.ndarray) -> str:
    """A name for the images of ``arr`` (N x S x S x 3 uint8): the decoded cache's file stem
    when ``arr`` is a whole memory-mapped cache array, else ``mem<S>px-<sha256 of bytes>``."""
    name = getattr(arr, "filename", None)
    if name and getattr(arr, "offset", 0) == 0 and os.path.isfile(name) \
            and os.path.getsize(name) == arr.nbytes and arr.flags.c_contiguous:
        return Path(name).stem
    h = hashlib.sha256(str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return f"mem{arr.shape[1]}px-{h.hexdigest()[:16]}"


def digest(*arrays: np.ndarray, text: str = "") -> str:
    """sha256 (16 hex) of ``text`` and the bytes of ``arrays`` (a model's identity)."""
    h = hashlib.sha256(text.encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _load(path: Path, n: int) -> Extracted | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            values = z["values"].astype(np.float64)
            n_fallback = int(z["n_fallback"])
    except (OSError, ValueError, KeyError):
        return None
    if values.ndim != 2 or values.shape[0] != n:
        return None
    return Extracted(values, n_fallback)


def _compute(arr: np.ndarray, compute: Callable[[np.ndarray], Extracted], what: str,
             log: Callable[[str], None]) -> Extracted:
    parts, n_fallback, t0 = [], 0, time.time()
    for a in range(0, len(arr), CHUNK):
        got = compute(np.asarray(arr[a:a + CHUNK]))
        parts.append(got.values)
        n_fallback += got.n_fallback
    seconds = time.time() - t0
    log(f"{what}: {len(arr)} images in {seconds:.1f} s ({len(arr) / max(seconds, 1e-9):.1f} "
        f"images/s), {n_fallback} fallback row(s)")
    return Extracted(np.concatenate(parts).astype(np.float64), n_fallback)


def cached_features(kind: str, arr: np.ndarray, compute: Callable[[np.ndarray], Extracted],
                    model: str = "", disk: bool = True,
                    log: Callable[[str], None] = print) -> Extracted:
    """Feature ``kind`` of every image of ``arr`` (N x S x S x 3 uint8): Extracted(values
    float64 N x F, n_fallback), read from the cache or computed by ``compute`` (uint8
    B x S x S x 3 -> Extracted) in chunks and stored. ``model``: the digest of what the
    feature depends on besides the image; ``disk=False`` keeps it in this process only (for
    per-fold codebooks, whose files would pile up)."""
    from .api import FEATURE_VERSION

    ident = array_identity(arr)
    key = f"{kind}-v{FEATURE_VERSION}-{ident}" + (f"-{model}" if model else "")
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    what = f"{kind} features of {ident}"
    if disk:
        folder = owned_path(cache_root(), FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        path = owned_path(folder, f"{key}.npz")
        with file_lock(owned_path(folder, f".{key}.lock")):
            got = _load(path, len(arr)) if path.is_file() else None
            if got is None:
                if path.is_file():
                    log(f"feature cache {path} is unreadable or does not match its images; "
                        "computing it again")
                got = _compute(arr, compute, what, log)
                buf = io.BytesIO()
                np.savez(buf, values=got.values.astype(np.float32), n_fallback=got.n_fallback)
                write_bytes_atomic(path, buf.getvalue())
                # what later runs read back: the float32 values
                got = Extracted(got.values.astype(np.float32).astype(np.float64), got.n_fallback)
    else:
        got = _compute(arr, compute, what, log)
    _MEMO[key] = got
    while len(_MEMO) > MEMO_ENTRIES:
        _MEMO.popitem(last=False)
    return got


def clear_memo() -> None:
    """Forget the in-process copies (tests; the disk cache stays)."""
    _MEMO.clear()
