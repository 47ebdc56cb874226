"""The synthetic cross-domain sets: `syn-medical`, `syn-xray`, `syn-astro`, `syn-screen`.

Stand-ins for the non-standard domains of full-reference IQA papers (medical, radiographic,
astronomy, screen content), made like `syn-kadid` (KADID-10k distortions, the same
pseudo-MOS ensemble) from the non-photographic pictures that ship with scikit-image.
Each set is generated on its own, only when it is asked for (the main suite never pays
for them), into ``<cache>/synthetic/domains/<set>-v<V>-seed<S>/`` with a manifest of
file hashes checked on every use, under a lock, through a temporary folder renamed into
place (as the main suite).

Contents, per set: the references of :data:`DOMAINS` (non-overlapping 192 px tiles of
the pictures, see :func:`~bench.data.synthetic.references.tile_crops`) x the
:data:`DOMAIN_TYPES` (8 of KADID's 25, chosen to mean something on gray pictures too:
blur, compression, noise, denoising, pixelation, sharpening) x 5 levels: 4 references
and 160 images per set, 640 in all (pseudo-MOS, mostly FSIM, is most of the cost).
Names ``<P><ref>_<type>_<level>.png`` with KADID type ids, so types are comparable with
`syn-kadid`'s. Every reference tile is min-max stretched to 0..255 first: the KADID
generator min-max normalises its input and re-stretches its output, so a reference that
does not span the range would differ from each of its distorted images by a contrast
stretch on top of the named distortion (low-contrast tiles such as `cell` or
`microaneurysms` would then score as if heavily distorted at every level).

Pseudo-MOS: the suite's ensemble (GMSD, NLPD, FSIM; see
:mod:`~bench.data.synthetic.pseudo_mos`) z-scored over the set itself: scores are on
each set's own scale (ranks, and so SROCC, are unaffected). The set's label_source
names those metrics: they are not independent judges of it.

References are disjoint from `syn-kadid`'s: `immunohistochemistry`, `moon` and `text`,
syn-kadid references, are left out (medical, astronomy and screen content keep the other
pictures; screen content adds scikit-image's `logo`, a rendered graphic). `retina`,
`cell`, `microaneurysms`, `hubble_deep_field` and `page` are also sources of `syn-wild`
(other crops, possibly overlapping pixels): train on `syn-wild` and test on a domain set
only knowing that.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.atomic import file_lock, write_text_atomic
from ..cleanup import remove_owned, sweep_suite_leftovers
from ..distortion_types import KADID10K_TYPES, abbreviations
from ..paths import cache_root, check_seed, files_match, owned_path
from ..progress import Progress
from ..registry import DATASETS, Expected, register_dataset

DOMAIN_VERSION = 2
#: KADID-10k type ids used by every domain set: GB, JP2K, JPEG, WN, IN, DENOISE, PIXELATE,
#: HS (one or two per KADID group; each one's pseudo-MOS falls with its level on every
#: reference, which contrast change's does not).
DOMAIN_TYPES: tuple[int, ...] = (1, 9, 10, 11, 13, 15, 21, 24)
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Source:
    """Reference tiles from one scikit-image picture (see ``tile_crops``): ``tiles``
    tiles of the part ``box`` (top, bottom, left, right fractions) with its short side at
    ``side`` px (None: native)."""

    picture: str
    tiles: int
    side: int | None = None
    box: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)


@dataclass(frozen=True)
class Domain:
    """One cross-domain set: its domain in words, reference id prefix, rng stream key."""

    domain: str
    prefix: str
    stream: int
    sources: tuple[Source, ...]

    @property
    def n_refs(self) -> int:
        return sum(s.tiles for s in self.sources)


DOMAINS: dict[str, Domain] = {
    "syn-medical": Domain("medical/microscopy", "MED", 11, (
        Source("retina", 2, 384, (0.15, 0.85, 0.15, 0.85)),  # inside the fundus disk
        Source("cell", 1, 384),
        Source("microaneurysms", 1, 192),
    )),
    "syn-xray": Domain("radiographic", "XR", 12, (
        Source("shepp_logan_phantom", 4, 384, (0.04, 0.96, 0.155, 0.845)),  # the head
    )),
    "syn-astro": Domain("astronomy", "AST", 13, (Source("hubble_deep_field", 4),)),
    "syn-screen": Domain("documents/screen content", "SCR", 14, (
        Source("page", 2, 192), Source("logo", 2),
    )),
}


def domains_dir() -> Path:
    """Folder holding the generated cross-domain sets under the cache root."""
    return owned_path(cache_root(), "synthetic", "domains")


def domain_set_dir(name: str, seed: int = 0) -> Path:
    """Folder of cross-domain set ``name`` for ``seed`` (may not exist yet)."""
    seed = check_seed(seed)
    return owned_path(domains_dir(), f"{name}-v{DOMAIN_VERSION}-seed{seed}")


def stretched(img: np.ndarray) -> np.ndarray:
    """``img`` (uint8) min-max stretched to span 0..255 (one min and max over all
    channels, as the KADID generator normalises its input). A constant image is kept."""
    lo, hi = int(img.min()), int(img.max())
    if hi == lo or (lo, hi) == (0, 255):
        return img
    return np.round((img.astype(np.float64) - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def domain_references(name: str, seed: int) -> list[tuple[str, np.ndarray]]:
    """The references of set ``name``: (picture + tile index, 192 x 192 x 3 uint8),
    each stretched to the full range (:func:`stretched`)."""
    from .references import tile_crops

    out = []
    for k, src in enumerate(DOMAINS[name].sources):
        out += [(tag, stretched(tile)) for tag, tile in
                tile_crops(src.picture, src.tiles, seed + 7919 * k, src.side, src.box)]
    return out


def _generate(dest: Path, name: str, seed: int, processes: int, log: Callable[[str], None]) -> dict:
    """Write set ``name`` into the empty folder ``dest``; return its manifest. The levels of
    one (reference, type) share their random draws, as in syn-kadid."""
    from . import pseudo_mos
    from .jobs import ImageTask, Job, map_jobs, run_job
    from .levels import SUITE_LEVELS
    from .suite import cpu_seconds, write_labels

    t0, cpu0 = time.time(), cpu_seconds()
    dom = DOMAINS[name]
    jobs, rows = [], []
    for r, (source, ref) in enumerate(domain_references(name, seed)):
        ref_id = f"{dom.prefix}{r + 1:02d}"
        ref_rel = f"references/{ref_id}.png"
        tasks = []
        for t in DOMAIN_TYPES:
            for lv in LEVELS:
                rel = f"images/{ref_id}_{t:02d}_{lv:02d}.png"
                tasks.append(ImageTask(rel, ((t, lv),), (seed, dom.stream, r, t)))
                rows.append({"image": rel, "ref": ref_id, "ref_image": ref_rel, "source": source,
                             "dist_type": KADID10K_TYPES[t - 1][1], "dist_id": t, "level": lv})
        jobs.append(Job(str(dest), ref, (seed, dom.stream, r), ref_rel, tuple(tasks)))
    sizes = [len(j.images) for j in jobs]
    pseudo_mos.preload()
    results = map_jobs(run_job, jobs, processes, Progress(log, f"{name} (distorted, scored, written)",
                                                          sum(sizes)), sizes)
    hashes = {rel: h for res in results for rel, h in res.hashes.items()}
    scores = pseudo_mos.concat_scores([res.scores for res in results])
    z, mos = pseudo_mos.ensemble(scores)  # on the set's own scale
    for i, row in enumerate(rows):
        row.update(mos=f"{mos[i]:.6f}", mos_raw=f"{z[i]:.6f}",
                   **{m: f"{v[i]:.6f}" for m, v in scores.items()})
    hashes["labels.csv"] = write_labels(dest, rows, sorted(scores))
    return {
        "domain_version": DOMAIN_VERSION, "set": name, "seed": seed, "domain": dom.domain,
        "sources": [{"picture": s.picture, "tiles": s.tiles, "side": s.side, "box": list(s.box)}
                    for s in dom.sources],
        "types": [KADID10K_TYPES[t - 1][1] for t in DOMAIN_TYPES], "levels": list(LEVELS),
        "level_parameters": {KADID10K_TYPES[t - 1][1]: list(SUITE_LEVELS[t]) for t in DOMAIN_TYPES},
        "images": len(rows), "refs": len(jobs),
        "label_source": list(pseudo_mos.LABEL_SOURCE),
        "pseudo_mos": {"members": pseudo_mos.MEMBERS, "logistic_slope": pseudo_mos.LOGISTIC_SLOPE,
                       "weights": "equal", "z_scored_over": name},
        "agreement_srocc": pseudo_mos.agreement(scores, mos),
        "seconds": {"total": round(time.time() - t0, 1), "cpu": round(cpu_seconds() - cpu0, 1)},
        "files": hashes,
    }


def _matches(folder: Path, name: str, seed: int) -> bool:
    """True when ``folder`` holds set ``name`` for ``seed`` matching its manifest's hashes."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if (manifest.get("domain_version"), manifest.get("set"), manifest.get("seed")) != (DOMAIN_VERSION, name, seed):
        return False
    files = manifest.get("files", {})
    return bool(files) and files_match(folder, files)


def ensure_domain_set(name: str, seed: int = 0, processes: int = 2,
                      log: Callable[[str], None] = print) -> Path:
    """The folder of cross-domain set ``name`` for ``seed``, generating it first when
    missing or not matching its manifest (progress lines through ``log``). Unfinished
    generations left by killed processes are removed on the way."""
    folder = domain_set_dir(name, seed)
    seed = check_seed(seed)
    parent = folder.parent
    pattern = ".syn-*-v*-seed*.tmp"
    if _matches(folder, name, seed):
        sweep_suite_leftovers(parent, log, pattern)
        return folder
    with file_lock(owned_path(parent, f".{folder.name}.lock")):
        if not _matches(folder, name, seed):
            if folder.exists():
                log(f"cross-domain set at {folder} does not match its manifest; regenerating it")
                remove_owned(parent, folder.name)
            log(f"generating the cross-domain set {name} (seed {seed}) into {folder} (once) ...")
            tmp = owned_path(parent, f".{folder.name}.tmp")
            if tmp.exists():
                remove_owned(parent, tmp.name)
            tmp.mkdir(parents=True)
            manifest = _generate(tmp, name, seed, processes, log)
            write_text_atomic(tmp / "manifest.json", json.dumps(manifest, indent=1))
            tmp.rename(folder)
            log(f"{name} ready in {manifest['seconds']['total']} s")
    sweep_suite_leftovers(parent, log, pattern)
    return folder


def read_domain_manifest(name: str, seed: int = 0) -> dict | None:
    """The manifest of an already generated set ``name`` for ``seed``, or None."""
    try:
        return json.loads((domain_set_dir(name, seed) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def describe_domain_sets(seed: int = 0) -> list[str]:
    """One line per cross-domain set for ``python -m bench data list``: counts and
    pseudo-MOS agreement when generated, else its planned size and 'generated on first use'
    (nothing is generated here)."""
    lines = []
    for name, dom in DOMAINS.items():
        m = read_domain_manifest(name, seed)
        what = f"{dom.domain}: {', '.join(s.picture for s in dom.sources)}"
        if m is None:
            n = dom.n_refs * len(DOMAIN_TYPES) * len(LEVELS)
            lines.append(f"  {name:<11} {n:>5} images, {dom.n_refs:>3} refs, {len(DOMAIN_TYPES):>2} types"
                         f"  {what}  [generated on first use; label source "
                         f"{'+'.join(_label_source())}]")
        else:
            agree = ", ".join(f"{k} {v:.3f}" for k, v in m["agreement_srocc"].items())
            lines.append(f"  {name:<11} {m['images']:>5} images, {m['refs']:>3} refs, {len(m['types']):>2} types"
                         f"  {what}  [pseudo-MOS SROCC vs {agree}]")
    return lines


def _label_source() -> tuple[str, ...]:
    from .pseudo_mos import LABEL_SOURCE

    return LABEL_SOURCE


def is_domain_set(name: str) -> bool:
    """True for the cross-domain sets (generated apart from the main suite)."""
    return name in DOMAINS


def _register() -> None:
    from .suite import _load_set, mark_label_source

    types = abbreviations(KADID10K_TYPES)
    for name, dom in DOMAINS.items():
        register_dataset(
            name, synthetic=True, kind="synthetic",
            expected=Expected(dom.n_refs * len(DOMAIN_TYPES) * len(LEVELS), dom.n_refs,
                              len(DOMAIN_TYPES), len(LEVELS)),
            description=f"cross-domain ({dom.domain}): {len(DOMAIN_TYPES)} KADID distortions "
                        "x 5 levels on scikit-image pictures")(_load_set(name, "synthetic", types))
        mark_label_source(name)
        DATASETS[name].extra["domain"] = dom.domain


_register()
