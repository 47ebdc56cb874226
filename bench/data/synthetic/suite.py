"""The embedded synthetic suite: `syn-kadid`, `syn-wild`, `syn-mlive`.

Generated once per (suite version, seed) into ``<cache>/synthetic/v<V>-seed<S>/`` with a
``manifest.json`` recording version, seed, counts, pseudo-MOS agreement and the hash of
every file. A folder that does not match its manifest is regenerated whole, never
half-used; generation happens in a temporary folder renamed into place, under a lock, so
parallel workers never see a partial suite.

* syn-kadid: the 25 KADID-10k distortions x 5 levels on 12 references (1,500 images +
  12 references), names ``I<ref>_<type>_<level>.png`` as in KADID-10k.
* syn-wild: 16 references from other source images, 15 images each with 1 to 3 random
  distortions at random levels, no type labels (240 images): stands in for authentic sets.
* syn-mlive: 6 references, Gaussian blur then JPEG, and Gaussian blur then white noise,
  3 x 3 level pairs each (108 images): stands in for MLIVE.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

from ...core.atomic import file_lock, write_text_atomic
from ..cleanup import remove_owned, sweep_suite_leftovers
from ..loaders._common import RowChecks, read_csv_table, to_float
from ..distortion_types import KADID10K_TYPES, MLIVE_TYPES, abbreviations
from ..paths import cache_root, check_seed, files_match, owned_path
from ..progress import Progress
from ..records import Dataset, Record
from ..registry import DATASETS, Expected, register_dataset
from ...core.errors import DataError

SUITE_VERSION = 1
SET_NAMES = ("syn-kadid", "syn-wild", "syn-mlive")
N_KADID_REFS = 12
WILD_PER_SOURCE, WILD_PER_REF = 2, 15
MLIVE_REFS = 6
# (dataset id, KADID type id) pairs of the two MLIVE-style parts; level pairs 2..4
MLIVE_PARTS = [(1, 10), (2, 11)]  # blur then JPEG (type 10), blur then white noise (type 11)
MLIVE_LEVELS = (2, 3, 4)
GB = 1  # KADID type id of Gaussian blur
LABEL_FIELDS = ["image", "mos", "mos_raw", "ref", "ref_image", "dist_type", "dist_id", "level"]


def suite_dir(seed: int = 0) -> Path:
    """Folder of the suite for ``seed`` under the cache root (may not exist yet).
    UsageError unless ``seed`` is a non-negative integer (it goes into the path)."""
    seed = check_seed(seed)
    return owned_path(cache_root(), "synthetic", f"v{SUITE_VERSION}-seed{seed}")


# --------------------------------------------------------------------------- generation
def _png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _rng(seed: int, *key: int) -> np.random.Generator:
    # One independent stream per image: results do not depend on order or parallelism.
    return np.random.default_rng([seed, *key])


def _kadid_ref_job(args):
    from .distortions import distort, to_uint8

    seed, r, ref = args
    x = ref.astype(np.float64) / 255.0
    scale = ref.shape[1] / 512.0
    out = []
    for type_id, _, _ in KADID10K_TYPES:
        for level in range(1, 6):
            y = distort(x, type_id, level, _rng(seed, 1, r, type_id, level), scale)
            out.append((type_id, level, to_uint8(y)))
    return out


def _wild_ref_job(args):
    from .distortions import distort, to_uint8

    seed, r, ref = args
    x = ref.astype(np.float64) / 255.0
    scale = ref.shape[1] / 512.0
    out = []
    for k in range(WILD_PER_REF):
        rng = _rng(seed, 2, r, k)
        n = int(rng.integers(1, 4))
        types = rng.choice(len(KADID10K_TYPES), size=n, replace=False) + 1
        y = x
        for t in types:
            y = distort(y, int(t), int(rng.integers(1, 6)), rng, scale)
        out.append((k, [int(t) for t in types], to_uint8(y)))
    return out


def _mlive_ref_job(args):
    from .distortions import distort, to_uint8

    seed, r, ref = args
    x = ref.astype(np.float64) / 255.0
    scale = ref.shape[1] / 512.0
    out = []
    for part, second in MLIVE_PARTS:
        for lb in MLIVE_LEVELS:
            for l2 in MLIVE_LEVELS:
                rng = _rng(seed, 3, r, part, lb, l2)
                y = distort(distort(x, GB, lb, rng, scale), second, l2, rng, scale)
                out.append((part, lb, l2, to_uint8(y)))
    return out


def _map_jobs(fn, jobs, processes: int, progress: Progress | None = None, per_job: int = 1):
    """[fn(j) for j in jobs], in order, over ``processes`` processes; ``progress`` advances
    by ``per_job`` as each job's result arrives."""
    def tick(results):
        for r in results:
            if progress is not None:
                progress.advance(per_job)
            yield r

    if processes <= 1:
        return list(tick(fn(j) for j in jobs))
    import multiprocessing as mp

    with mp.get_context("fork").Pool(processes) as pool:
        return list(tick(pool.imap(fn, jobs)))


def _generate(dest: Path, seed: int, processes: int, log=print) -> dict:
    """Write the whole suite into ``dest`` (an empty folder); return the manifest.
    Progress lines (set, images done/total) go to ``log`` every few seconds."""
    from .references import KADID_SOURCES, WILD_SOURCES, reference_crops
    from . import pseudo_mos

    t0 = time.time()
    kadid_refs = reference_crops(KADID_SOURCES, 1, seed)[:N_KADID_REFS]
    wild_refs = reference_crops(WILD_SOURCES, WILD_PER_SOURCE, seed + 1)
    mlive_refs = reference_crops(KADID_SOURCES[:MLIVE_REFS], 1, seed + 2, fit_side=384)

    rows: dict[str, list[dict]] = {s: [] for s in SET_NAMES}
    dist_imgs, ref_imgs, owners = [], [], []  # owners: (set, row index)

    def add(set_name, rel, img, ref_rel, ref_img, **fields):
        rows[set_name].append({"image": rel, "ref_image": ref_rel, **fields})
        files[f"{set_name}/{rel}"] = img
        dist_imgs.append(img)
        ref_imgs.append(ref_img)
        owners.append((set_name, len(rows[set_name]) - 1))

    files: dict[str, np.ndarray] = {}
    kadid_out = _map_jobs(_kadid_ref_job, [(seed, r, ref) for r, (_, ref) in enumerate(kadid_refs)], processes,
                          Progress(log, "syn-kadid distortions", len(kadid_refs) * 125), 125)
    for r, ((_, ref), dists) in enumerate(zip(kadid_refs, kadid_out), start=1):
        ref_rel = f"images/I{r:02d}.png"
        files[f"syn-kadid/{ref_rel}"] = ref
        for type_id, level, img in dists:
            add("syn-kadid", f"images/I{r:02d}_{type_id:02d}_{level:02d}.png", img, ref_rel, ref,
                ref=f"I{r:02d}", dist_type=KADID10K_TYPES[type_id - 1][1], dist_id=type_id, level=level)
    wild_out = _map_jobs(_wild_ref_job, [(seed, r, ref) for r, (_, ref) in enumerate(wild_refs)], processes,
                         Progress(log, "syn-wild distortions", len(wild_refs) * WILD_PER_REF), WILD_PER_REF)
    for r, ((_, ref), dists) in enumerate(zip(wild_refs, wild_out), start=1):
        ref_rel = f"references/W{r:02d}.png"
        files[f"syn-wild/{ref_rel}"] = ref
        for k, types, img in dists:
            add("syn-wild", f"images/W{r:02d}_{k:03d}.png", img, ref_rel, ref, ref=f"W{r:02d}",
                applied="+".join(KADID10K_TYPES[t - 1][1] for t in types))
    per_mlive = len(MLIVE_PARTS) * len(MLIVE_LEVELS) ** 2
    mlive_out = _map_jobs(_mlive_ref_job, [(seed, r, ref) for r, (_, ref) in enumerate(mlive_refs)], processes,
                          Progress(log, "syn-mlive distortions", len(mlive_refs) * per_mlive), per_mlive)
    for r, ((_, ref), dists) in enumerate(zip(mlive_refs, mlive_out), start=1):
        ref_rel = f"references/M{r:02d}.png"
        files[f"syn-mlive/{ref_rel}"] = ref
        for part, lb, l2, img in dists:
            folder = "blurjpeg" if part == 1 else "blurnoise"
            add("syn-mlive", f"{folder}/M{r:02d}_{folder}_{lb}{l2}.png", img, ref_rel, ref,
                ref=f"M{r:02d}", dist_type=MLIVE_TYPES[part - 1][1], dist_id=part)
    t_dist = time.time() - t0

    scores, z, mos = pseudo_mos.labelled(np.stack(dist_imgs), np.stack(ref_imgs), log)
    for i, (set_name, idx) in enumerate(owners):
        row = rows[set_name][idx]
        row["mos"] = f"{mos[i]:.6f}"
        row["mos_raw"] = f"{z[i]:.6f}"
        for name, vals in scores.items():
            row[name] = f"{vals[i]:.6f}"

    hashes = {}
    written = Progress(log, "writing PNG files", len(files), unit="files")
    for rel, img in sorted(files.items()):
        data = _png_bytes(img)
        path = owned_path(dest, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        hashes[rel] = hashlib.blake2b(data, digest_size=16).hexdigest()
        written.advance()
    members = sorted(scores)
    sets = {}
    for set_name in SET_NAMES:
        fields = LABEL_FIELDS + [k for k in ("applied",) if k in rows[set_name][0]] + members
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows[set_name])
        (dest / set_name / "labels.csv").write_text(buf.getvalue())
        hashes[f"{set_name}/labels.csv"] = hashlib.blake2b(buf.getvalue().encode(), digest_size=16).hexdigest()
        sel = [i for i, (s, _) in enumerate(owners) if s == set_name]
        sets[set_name] = {
            "images": len(rows[set_name]),
            "refs": len({r["ref"] for r in rows[set_name]}),
            "types": len({r.get("dist_type") for r in rows[set_name] if r.get("dist_type")}),
            "agreement_srocc": pseudo_mos.agreement({k: v[sel] for k, v in scores.items()}, mos[sel]),
        }
    return {
        "suite_version": SUITE_VERSION, "seed": seed, "sets": sets,
        "pseudo_mos": {"members": pseudo_mos.MEMBERS, "logistic_slope": pseudo_mos.LOGISTIC_SLOPE},
        "seconds": {"distortions": round(t_dist, 1), "total": round(time.time() - t0, 1)},
        "files": hashes,
    }


def _manifest_matches(folder: Path, seed: int) -> bool:
    """True when ``folder`` holds a complete suite that matches its manifest (hashes).
    A manifest naming a file outside the folder does not match."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("suite_version") != SUITE_VERSION or manifest.get("seed") != seed:
        return False
    return files_match(folder, manifest.get("files", {}))


def ensure_suite(seed: int = 0, processes: int = 2, log=print) -> Path:
    """The suite folder for ``seed``, generating it first when missing or damaged
    (progress lines through ``log``). UsageError unless ``seed`` is a non-negative int;
    every folder it writes or removes is checked to lie inside the cache's suite folder.
    Unfinished generations left by killed processes are removed on the way."""
    folder = suite_dir(seed)
    seed = check_seed(seed)
    synthetic = folder.parent
    if _manifest_matches(folder, seed):
        sweep_suite_leftovers(synthetic, log)
        return folder
    with file_lock(owned_path(synthetic, f".{folder.name}.lock")):
        if not _manifest_matches(folder, seed):  # else another process finished it meanwhile
            if folder.exists():
                log(f"synthetic suite at {folder} does not match its manifest; regenerating it")
                remove_owned(synthetic, folder.name)
            log(f"generating the synthetic suite (seed {seed}) into {folder} "
                "(once; 1-3 minutes on 2 cores) ...")
            tmp = owned_path(synthetic, f".{folder.name}.tmp")
            if tmp.exists():
                remove_owned(synthetic, tmp.name)
            tmp.mkdir(parents=True)
            manifest = _generate(tmp, seed, processes, log)
            write_text_atomic(tmp / "manifest.json", json.dumps(manifest, indent=1))
            tmp.rename(folder)
            log(f"synthetic suite ready in {manifest['seconds']['total']} s")
    sweep_suite_leftovers(synthetic, log)
    return folder


def read_manifest(seed: int = 0) -> dict | None:
    """The manifest of an existing suite for ``seed``, or None."""
    try:
        return json.loads((suite_dir(seed) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- loading
def _opt_int(text: str):
    return int(text) if text not in ("", None) else None


def _load_set(name: str, kind: str, type_names: list[str]):
    """The loader of synthetic set ``name``: its labels.csv as a Dataset whose
    label_source names the pseudo-MOS members."""
    from .pseudo_mos import LABEL_SOURCE

    def load(root: Path) -> Dataset:
        labels = Path(root) / "labels.csv"
        if not labels.is_file():
            raise DataError(f"{labels} is missing; delete {Path(root).parent} to regenerate the suite")
        hint = f"delete {Path(root).parent} to regenerate the suite"
        checks = RowChecks(labels, hint, (0.0, 1.0))
        records = []
        for line_no, row in read_csv_table(labels, LABEL_FIELDS[:5], hint):
            where = f"line {line_no}"
            records.append(Record(
                image=checks.image(row["image"], where),
                mos=checks.score(to_float(row["mos"], labels, where, hint), where),
                mos_raw=to_float(row["mos_raw"], labels, where, hint),
                ref=row["ref"] or None, ref_image=row["ref_image"] or None,
                dist_type=row.get("dist_type") or None, dist_id=_opt_int(row.get("dist_id")),
                level=_opt_int(row.get("level"))))
        return Dataset(name, Path(root), records, kind, type_names, label_source=LABEL_SOURCE)

    return load


register_dataset("syn-kadid", synthetic=True, kind="synthetic",
                 expected=Expected(N_KADID_REFS * 125, N_KADID_REFS, 25, 5),
                 description="25 KADID-10k distortions x 5 levels on scikit-image crops")(
    _load_set("syn-kadid", "synthetic", abbreviations(KADID10K_TYPES)))
register_dataset("syn-wild", synthetic=True, kind="authentic",
                 expected=Expected(16 * WILD_PER_REF, 16),
                 description="1-3 random distortions per image, no type labels, disjoint content")(
    _load_set("syn-wild", "authentic", []))
register_dataset("syn-mlive", synthetic=True, kind="multiply",
                 expected=Expected(MLIVE_REFS * 18, MLIVE_REFS, 2),
                 description="blur+JPEG and blur+noise, as MLIVE")(
    _load_set("syn-mlive", "multiply", abbreviations(MLIVE_TYPES)))


def mark_label_source(name: str) -> None:
    """Record on dataset ``name``'s spec (``extra["label_source"]``) the metrics its
    pseudo-MOS comes from, so reports can mark them without generating the set."""
    from .pseudo_mos import LABEL_SOURCE

    DATASETS[name].extra["label_source"] = LABEL_SOURCE


for _name in SET_NAMES:
    mark_label_source(_name)

# The cross-domain sets register themselves (generated only when one is asked for).
from . import domains  # noqa: F401
