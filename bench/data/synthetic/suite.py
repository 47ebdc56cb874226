"""The embedded synthetic suite: `syn-kadid`, `syn-wild`, `syn-mlive`.

Generated once per (suite version, seed) into ``<cache>/synthetic/v<V>-seed<S>/`` with a
``manifest.json`` recording version, seed, counts, pseudo-MOS agreement and the hash of
every file. A folder that does not match its manifest is regenerated whole, never
half-used; generation happens in a temporary folder renamed into place, under a lock, so
parallel workers never see a partial suite. One job per reference (references.py, jobs.py)
runs in a pool of processes; the files do not depend on how many.

* syn-kadid: the 25 KADID-10k distortions x 5 levels (calibrated for 192 px, levels.py)
  on 32 colour references (4,000 images + 32 references), names
  ``I<ref>_<type>_<level>.png`` as in KADID-10k. The levels of one (reference, type) share
  their random draws (noise field, angle, block positions), so only the level changes.
* syn-wild: 16 references of other content, 15 images each with 1 to 3 random
  distortions at random levels, no type labels (240 images): stands in for authentic sets.
* syn-mlive: 6 references, Gaussian blur then JPEG, and Gaussian blur then white noise,
  3 x 3 level pairs each (108 images): stands in for MLIVE.
"""
from __future__ import annotations

import csv
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
from .jobs import ImageTask, Job, map_jobs
from .references import KADID_REFS, MLIVE_REFS, WILD_REFS

SUITE_VERSION = 2
SET_NAMES = ("syn-kadid", "syn-wild", "syn-mlive")
N_KADID_REFS = len(KADID_REFS)
WILD_PER_REF = 15
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
def _rng(seed: int, *key: int) -> np.random.Generator:
    # One independent stream per key: results do not depend on order or parallelism.
    return np.random.default_rng([seed, *key])


def _kadid_plan(dest: str, seed: int) -> tuple[list[Job], list[dict]]:
    jobs, rows = [], []
    for r, spec in enumerate(KADID_REFS):
        ref, ref_rel = f"I{r + 1:02d}", f"images/I{r + 1:02d}.png"
        tasks = []
        for type_id, abbr, _ in KADID10K_TYPES:
            for level in range(1, 6):
                rel = f"images/{ref}_{type_id:02d}_{level:02d}.png"
                tasks.append(ImageTask(rel, ((type_id, level),), (seed, 1, r, type_id)))
                rows.append({"image": rel, "ref_image": ref_rel, "ref": ref, "dist_type": abbr,
                             "dist_id": type_id, "level": level})
        jobs.append(Job(f"{dest}/syn-kadid", spec, (seed, 1, r), ref_rel, tuple(tasks)))
    return jobs, rows


def _wild_plan(dest: str, seed: int) -> tuple[list[Job], list[dict]]:
    jobs, rows = [], []
    for r, spec in enumerate(WILD_REFS):
        ref, ref_rel = f"W{r + 1:02d}", f"references/W{r + 1:02d}.png"
        tasks = []
        for k in range(WILD_PER_REF):
            rng = _rng(seed, 2, r, k)
            types = rng.choice(len(KADID10K_TYPES), size=int(rng.integers(1, 4)), replace=False) + 1
            steps = tuple((int(t), int(rng.integers(1, 6))) for t in types)
            rel = f"images/{ref}_{k:03d}.png"
            tasks.append(ImageTask(rel, steps, (seed, 2, r, k, 1)))
            rows.append({"image": rel, "ref_image": ref_rel, "ref": ref,
                         "applied": "+".join(KADID10K_TYPES[t - 1][1] for t, _ in steps)})
        jobs.append(Job(f"{dest}/syn-wild", spec, (seed, 2, r), ref_rel, tuple(tasks)))
    return jobs, rows


def _mlive_plan(dest: str, seed: int) -> tuple[list[Job], list[dict]]:
    jobs, rows = [], []
    for r, spec in enumerate(MLIVE_REFS):
        ref, ref_rel = f"M{r + 1:02d}", f"references/M{r + 1:02d}.png"
        tasks = []
        for part, second in MLIVE_PARTS:
            folder = "blurjpeg" if part == 1 else "blurnoise"
            for lb in MLIVE_LEVELS:
                for l2 in MLIVE_LEVELS:
                    rel = f"{folder}/{ref}_{folder}_{lb}{l2}.png"
                    tasks.append(ImageTask(rel, ((GB, lb), (second, l2)), (seed, 3, r, part)))
                    rows.append({"image": rel, "ref_image": ref_rel, "ref": ref,
                                 "dist_type": MLIVE_TYPES[part - 1][1], "dist_id": part})
        jobs.append(Job(f"{dest}/syn-mlive", spec, (seed, 3, r), ref_rel, tuple(tasks)))
    return jobs, rows


def write_labels(folder: Path, rows: list[dict], members: list[str]) -> str:
    """Write ``folder``/labels.csv; return its blake2b-128 hash."""
    import hashlib

    fields = LABEL_FIELDS + [k for k in ("applied", "source") if k in rows[0]] + members
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    (folder / "labels.csv").write_text(buf.getvalue())
    return hashlib.blake2b(buf.getvalue().encode(), digest_size=16).hexdigest()


def cpu_seconds() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _generate(dest: Path, seed: int, processes: int, log=print) -> dict:
    """Write the whole suite into ``dest`` (an empty folder); return the manifest.
    A progress line (images done/total) goes to ``log`` every few seconds."""
    from . import pseudo_mos
    from .jobs import run_job
    from .levels import SUITE_LEVELS

    t0, cpu0 = time.time(), cpu_seconds()
    plans = {"syn-kadid": _kadid_plan(str(dest), seed), "syn-wild": _wild_plan(str(dest), seed),
             "syn-mlive": _mlive_plan(str(dest), seed)}
    jobs = [j for name in SET_NAMES for j in plans[name][0]]
    sizes = [len(j.images) for j in jobs]
    bar = Progress(log, "synthetic suite (distorted, scored, written)", sum(sizes))
    pseudo_mos.preload()
    results = map_jobs(run_job, jobs, processes, bar, sizes)
    hashes, sets, parts = {}, {}, []
    start = 0
    for name in SET_NAMES:
        n_jobs = len(plans[name][0])
        for res in results[start:start + n_jobs]:
            hashes.update({f"{name}/{rel}": h for rel, h in res.hashes.items()})
            parts.append(res.scores)
        start += n_jobs
    scores = pseudo_mos.concat_scores(parts)
    z, mos = pseudo_mos.ensemble(scores)  # one scale over the three sets
    i = 0
    for name in SET_NAMES:
        rows = plans[name][1]
        sel = slice(i, i + len(rows))
        for k, row in enumerate(rows, start=i):
            row.update(mos=f"{mos[k]:.6f}", mos_raw=f"{z[k]:.6f}",
                       **{m: f"{v[k]:.6f}" for m, v in scores.items()})
        hashes[f"{name}/labels.csv"] = write_labels(dest / name, rows, sorted(scores))
        sets[name] = {"images": len(rows), "refs": len({r["ref"] for r in rows}),
                      "types": len({r.get("dist_type") for r in rows if r.get("dist_type")}),
                      "agreement_srocc": pseudo_mos.agreement({k: v[sel] for k, v in scores.items()}, mos[sel])}
        i += len(rows)
    return {
        "suite_version": SUITE_VERSION, "seed": seed, "sets": sets,
        "pseudo_mos": {"members": pseudo_mos.MEMBERS, "logistic_slope": pseudo_mos.LOGISTIC_SLOPE,
                       "weights": "equal"},
        "levels": {str(t): list(p) for t, p in SUITE_LEVELS.items()},
        "seconds": {"total": round(time.time() - t0, 1), "cpu": round(cpu_seconds() - cpu0, 1),
                    "processes": processes},
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
                "(once; about a minute on 2 cores) ...")
            tmp = owned_path(synthetic, f".{folder.name}.tmp")
            if tmp.exists():
                remove_owned(synthetic, tmp.name)
            tmp.mkdir(parents=True)
            manifest = _generate(tmp, seed, processes, log)
            write_text_atomic(tmp / "manifest.json", json.dumps(manifest, indent=1))
            tmp.rename(folder)
            log(f"synthetic suite ready in {manifest['seconds']['total']} s "
                f"({manifest['seconds']['cpu']} s of CPU time)")
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
                 description="25 KADID-10k distortions x 5 levels on colour photos and scenes")(
    _load_set("syn-kadid", "synthetic", abbreviations(KADID10K_TYPES)))
register_dataset("syn-wild", synthetic=True, kind="authentic",
                 expected=Expected(len(WILD_REFS) * WILD_PER_REF, len(WILD_REFS)),
                 description="1-3 random distortions per image, no type labels, disjoint content")(
    _load_set("syn-wild", "authentic", []))
register_dataset("syn-mlive", synthetic=True, kind="multiply",
                 expected=Expected(len(MLIVE_REFS) * 18, len(MLIVE_REFS), 2),
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
from . import domains  # noqa: E402,F401
