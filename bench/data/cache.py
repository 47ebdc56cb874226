"""The decoded-image cache: each dataset decoded once, resized to the profile's square
size, into one uint8 array on disk (N x S x S x 3, memory-mapped).

Keyed by the cache format, dataset name, the image list (and file sizes/mtimes) and S,
so a changed release or another size gets its own array. Written to temporary files and
renamed: an interrupted decode leaves nothing that is ever used.

Integrity: the index file beside each array (``.json``) holds a CRC-32 of every image
row. An array is verified when a process first opens it (the file size, then every
row's CRC; about 20 ms for 1,500 images at 72 px and 130 ms at 256 px on one core);
a truncated file, a bad index or a row that differs from its CRC rebuilds the array with
a one-line notice. CRC-32 (zlib, stdlib) was chosen by measurement: 2-4x faster than
blake2b or sha256 of the whole file, and per row it names the damaged image. It
detects accidental damage, not forgery (whoever can write the array can write the index).

Cleaning (see :mod:`bench.data.cleanup` for the locking rule): after each open, arrays
of an older cache format, arrays built from the same dataset folder at the same size
from files that have since changed (superseded by the one just opened), arrays without
an index and temporary files of interrupted decodes are removed, each only while its own
lock is free. Arrays of other sizes or other folders are kept: they are valid and may be
in use.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import DataError
from ..core.atomic import file_lock
from .cleanup import remove_owned, try_lock
from .paths import cache_root, owned_path
from .progress import Progress
from .records import Dataset

#: Version of the array + index layout; older arrays are removed, never read.
FORMAT = 2
_VERIFIED: set[tuple] = set()  # (path, inode, size, mtime_ns) of arrays verified by this process


def _key(ds: Dataset, size: int) -> str:
    h = hashlib.sha256(f"{FORMAT}|{ds.name}|{size}|{Path(ds.root).resolve()}".encode())
    for rec in ds.records:
        try:
            st = os.stat(ds.path(rec))
            h.update(f"{rec.image}|{st.st_size}|{int(st.st_mtime)}\n".encode())
        except OSError:
            h.update(f"{rec.image}|missing\n".encode())
    return h.hexdigest()[:16]


def decode_image(path: Path, size: int) -> np.ndarray:
    """Decode ``path`` to RGB and resize (PIL bicubic, aspect not kept, as the paper's
    256 x 256 scaling) to size x size x 3 uint8. DataError naming the file if it is
    missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BICUBIC)
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"image {path} is missing; run `python -m bench data check` to list "
                        "every missing file, then restore it from the release") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"image {path} cannot be decoded ({exc}); the file is corrupt: "
                        "restore it from the release") from None


def row_checksums(arr: np.ndarray) -> list[int]:
    """CRC-32 (zlib) of each image row of ``arr`` (N x S x S x 3 uint8), as ints."""
    return [zlib.crc32(row) for row in arr]


def _read_index(meta: Path) -> dict | None:
    try:
        index = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) else None


def _damage(data: Path, index: dict | None, shape: tuple) -> str | None:
    """Why the array at ``data`` with ``index`` cannot be used as N x S x S x 3 = ``shape``,
    or None when it is sound (every row matches its CRC-32)."""
    if index is None:
        return "its index file is missing or unreadable"
    if index.get("format") != FORMAT or tuple(index.get("shape", ())) != shape:
        return "its index file does not describe it"
    crcs = index.get("row_crc32")
    if not isinstance(crcs, list) or len(crcs) != shape[0]:
        return "its index file holds no checksum per image"
    want = int(np.prod(shape))
    have = data.stat().st_size
    if have != want:
        return f"the file is truncated or padded ({have} of {want} bytes)"
    arr = np.memmap(data, dtype=np.uint8, mode="r", shape=shape)
    bad = [i for i, (got, crc) in enumerate(zip(row_checksums(arr), crcs)) if got != crc]
    del arr
    if bad:
        first = index.get("images", [None] * shape[0])[bad[0]]
        return f"{len(bad)} of {shape[0]} images differ from their checksums (first: {first})"
    return None


def _identity(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns)


def _build(ds: Dataset, size: int, folder: Path, base: str, shape: tuple, threads: int,
           log: Callable[[str], None]) -> None:
    """Decode ``ds`` into ``base``.u8 with its index ``base``.json (temporary files first)."""
    tmp = owned_path(folder, f".{base}.u8.tmp")
    tmp_meta = owned_path(folder, f".{base}.json.tmp")
    out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
    crcs = [0] * shape[0]

    def work(target: np.ndarray, i: int) -> None:
        target[i] = decode_image(ds.path(ds.records[i]), size)
        crcs[i] = zlib.crc32(target[i])

    progress = Progress(log, f"decoding {ds.name}", shape[0])
    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(functools.partial(work, out), range(shape[0])):
                progress.advance()
        out.flush()
        del out
        tmp_meta.write_text(json.dumps({
            "format": FORMAT, "dataset": ds.name, "size": size, "shape": shape,
            "root": str(Path(ds.root).resolve()), "images": [r.image for r in ds.records],
            "row_crc32": crcs}))
        os.replace(tmp, owned_path(folder, f"{base}.u8"))
        os.replace(tmp_meta, owned_path(folder, f"{base}.json"))
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
        raise


def decoded_array(ds: Dataset, size: int, threads: int = 4,
                  log: Callable[[str], None] = print) -> np.ndarray:
    """The dataset's images as a read-only memmap N x size x size x 3 uint8, in record
    order; decoded (in ``threads`` threads, with progress lines) the first time only,
    verified against its per-image checksums the first time this process opens it, and
    rebuilt with a one-line notice when damaged."""
    folder = owned_path(cache_root(), "decoded")
    key = _key(ds, size)
    base = f"{ds.name}-{size}px-{key}"
    data, meta = owned_path(folder, f"{base}.u8"), owned_path(folder, f"{base}.json")
    shape = (len(ds.records), size, size, 3)
    with file_lock(owned_path(folder, f".{base}.lock")):
        if data.is_file() and _identity(data) in _VERIFIED:
            damage = None
        elif data.is_file():
            damage = _damage(data, _read_index(meta), shape)
            if damage is not None:
                log(f"decoded array {data} is damaged ({damage}); rebuilding it")
        else:
            damage = "absent"
        if damage is not None:
            if damage == "absent":
                log(f"decoding {len(ds.records)} images of {ds.name} at {size} px (once) ...")
            _build(ds, size, folder, base, shape, threads, log)
        _VERIFIED.add(_identity(data))
        arr = np.memmap(data, dtype=np.uint8, mode="r", shape=shape)
    sweep_decoded(folder, keep=base, log=log)
    return arr


def _stale(folder: Path, name: str, keep_index: dict | None) -> bool:
    """True when array ``name`` (stem in ``folder``) is stale: no readable index, an
    older format, or superseded by ``keep_index``: the same dataset, size, folder and
    image list, so only the files' sizes or mtimes differ (the release changed since)."""
    index = _read_index(folder / f"{name}.json")
    if index is None or index.get("format") != FORMAT:
        return True
    if keep_index is None:
        return False
    return all(index.get(k) == keep_index.get(k) for k in ("dataset", "size", "root", "images"))


def sweep_decoded(folder: Path, keep: str, log: Callable[[str], None] = print) -> list[str]:
    """Remove stale arrays and temporary files from the decoded cache ``folder`` (see the
    module docstring), never ``keep`` (the stem of the array just opened), each while its
    own lock can be taken without waiting. Returns the file names removed."""
    keep_index = _read_index(folder / f"{keep}.json")
    stems = set()
    for p in folder.iterdir():
        if p.name.endswith((".u8", ".json")) and not p.name.startswith("."):
            stems.add(p.name.rsplit(".", 1)[0])
        elif p.name.startswith(".") and p.name.endswith((".u8.tmp", ".json.tmp")):
            stems.add(p.name[1:].rsplit(".", 2)[0])
    removed = []
    for stem in sorted(stems - {keep}):
        with try_lock(owned_path(folder, f".{stem}.lock")) as free:
            if not free:
                continue
            names = [f".{stem}.u8.tmp", f".{stem}.json.tmp"]
            if not (folder / f"{stem}.u8").exists() or _stale(folder, stem, keep_index):
                names += [f"{stem}.u8", f"{stem}.json"]
            removed += [n for n in names if remove_owned(folder, n)]
    if removed:
        log(f"removed {len(removed)} stale file(s) from the decoded cache {folder}: "
            f"{', '.join(removed[:4])}{' ...' if len(removed) > 4 else ''}")
    return removed
