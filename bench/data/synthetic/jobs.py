"""One unit of synthetic-set generation: a reference and every image made from it.

A job builds its reference (a photograph crop or a procedural scene), applies each
image's chain of distortions, scores every image against the reference with the
pseudo-MOS members, writes the PNG files into the set's unfinished folder and returns
only names, hashes and scores. Jobs run in a process pool, one per reference; each one
uses one torch thread and draws from random streams keyed by the suite seed and the
image, so results and files do not depend on the number of processes or their order.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ImageTask:
    """One distorted image: its path in the set, its chain of (KADID type id, level)
    applied in order, and the key of the random stream the chain draws from."""

    rel: str
    steps: tuple[tuple[int, int], ...]
    rng_key: tuple[int, ...]


@dataclass(frozen=True)
class Job:
    """A reference (``spec`` of references.py, drawn with ``ref_key``, or the reference
    itself as an S x S x 3 uint8 array), its file path
    ``ref_rel`` and its images, all written under ``dest``."""

    dest: str
    spec: object
    ref_key: tuple[int, ...]
    ref_rel: str
    images: tuple[ImageTask, ...]


@dataclass(frozen=True)
class JobResult:
    """What comes back from a job: blake2b-128 hashes of every file written (path ->
    hex), and each image's oriented member scores ({metric: float64 array, one per image
    in the job's order})."""

    hashes: dict
    scores: dict


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(img: np.ndarray) -> bytes:
    """PNG encoding of an H x W x 3 uint8 image: 8-bit RGB, every row with the 'Sub'
    filter (each byte minus the one a pixel to its left) and zlib level 1. Written here
    rather than by Pillow because Pillow tries every filter on every row: this takes
    under 2 ms a 192 px image against about 3 (files about 5 % larger), and the bytes
    depend on nothing but the pixels and zlib."""
    h, w, c = img.shape
    diff = img.astype(np.int16)
    diff[:, 1:] -= img[:, :-1]
    rows = np.empty((h, 1 + w * c), np.uint8)
    rows[:, 0] = 1  # filter type Sub
    rows[:, 1:] = (diff & 0xFF).astype(np.uint8).reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _chunk(b"IEND", b""))


def _write(dest: Path, rel: str, img: np.ndarray) -> str:
    from ..paths import owned_path

    data = png_bytes(img)
    path = owned_path(dest, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def distorted_images(ref: np.ndarray, images: tuple[ImageTask, ...]) -> np.ndarray:
    """N x S x S x 3 uint8: each task's chain applied to ``ref`` (S x S x 3 uint8) with
    the suite's calibrated levels (levels.py), pixel sizes scaled by S / 512."""
    from .distortions import distort, to_uint8
    from .levels import SUITE_LEVELS

    x = ref.astype(np.float64) / 255.0
    scale = ref.shape[1] / 512.0
    out = np.empty((len(images),) + ref.shape, np.uint8)
    for i, task in enumerate(images):
        rng = np.random.default_rng(list(task.rng_key))
        y = x
        for type_id, level in task.steps:
            y = distort(y, type_id, level, rng, scale, levels=SUITE_LEVELS)
        out[i] = to_uint8(y)
    return out


def run_job(job: Job) -> JobResult:
    """Build, distort, score and write one job (see the module docstring)."""
    from .references import build_reference

    dest = Path(job.dest)
    ref = job.spec if isinstance(job.spec, np.ndarray) else build_reference(job.spec, list(job.ref_key))
    hashes = {job.ref_rel: _write(dest, job.ref_rel, ref)}
    imgs = distorted_images(ref, job.images)
    for task, img in zip(job.images, imgs):
        hashes[task.rel] = _write(dest, task.rel, img)
    return JobResult(hashes, scores_one_thread(imgs, ref))


def scores_one_thread(imgs: np.ndarray, ref: np.ndarray) -> dict:
    """Pseudo-MOS member scores of ``imgs`` (N x S x S x 3 uint8) against ``ref`` (S x S x 3)
    with one torch thread: the same arithmetic in a worker and in the main process."""
    import torch

    from . import pseudo_mos

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return pseudo_mos.member_scores(imgs, ref)
    finally:
        torch.set_num_threads(threads)


def map_jobs(fn, jobs, processes: int, progress=None, sizes=None) -> list:
    """[fn(j) for j in jobs], in order, over ``processes`` processes (forked); ``progress``
    (a Progress) advances by ``sizes[i]`` (default 1) as job i's result arrives."""
    def tick(results):
        for i, r in enumerate(results):
            if progress is not None:
                progress.advance(1 if sizes is None else sizes[i])
            yield r

    if processes <= 1 or len(jobs) <= 1:
        return list(tick(fn(j) for j in jobs))
    import multiprocessing as mp

    with mp.get_context("fork").Pool(min(processes, len(jobs))) as pool:
        return list(tick(pool.imap(fn, jobs)))
