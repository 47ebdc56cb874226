"""The decoded-image cache: each dataset decoded once, resized to the profile's square
size, into one uint8 array on disk (N x S x S x 3, memory-mapped).

Keyed by dataset name, the image list (and file sizes/mtimes) and S, so a changed
release or another size gets its own array. Written to a temporary file and renamed:
an interrupted decode leaves nothing behind. Training never decodes an image file again.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError
from .atomic import file_lock, write_text_atomic
from .paths import cache_root
from .records import Dataset


def _key(ds: Dataset, size: int) -> str:
    h = hashlib.sha256(f"{ds.name}|{size}|{Path(ds.root).resolve()}".encode())
    for rec in ds.records:
        try:
            st = os.stat(ds.path(rec))
            h.update(f"{rec.image}|{st.st_size}|{int(st.st_mtime)}\n".encode())
        except OSError:
            h.update(f"{rec.image}|missing\n".encode())
    return h.hexdigest()[:16]


def decode_image(path: Path, size: int) -> np.ndarray:
    """Decode ``path`` to RGB and resize (bicubic, aspect not kept, as the paper's
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


def decoded_array(ds: Dataset, size: int, threads: int = 4,
                  log: Callable[[str], None] = print) -> np.ndarray:
    """The dataset's images as a read-only memmap N x size x size x 3 uint8, in record
    order; decoded (in ``threads`` threads) the first time only."""
    folder = cache_root() / "decoded"
    key = _key(ds, size)
    base = folder / f"{ds.name}-{size}px-{key}"
    data, meta = base.with_suffix(".u8"), base.with_suffix(".json")
    shape = (len(ds.records), size, size, 3)
    with file_lock(folder / f".{base.name}.lock"):
        if not (data.is_file() and meta.is_file()):
            log(f"decoding {len(ds.records)} images of {ds.name} at {size} px (once) ...")
            tmp = data.with_name(f".{data.name}.tmp")
            out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)

            def work(i):
                out[i] = decode_image(ds.path(ds.records[i]), size)

            try:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(work, range(len(ds.records))))
                out.flush()
                del out
                os.replace(tmp, data)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            write_text_atomic(meta, json.dumps({"dataset": ds.name, "size": size, "shape": shape,
                                                "images": [r.image for r in ds.records]}))
    return np.memmap(data, dtype=np.uint8, mode="r", shape=shape)
