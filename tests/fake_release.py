"""A tiny dataset *at hand* for the reader tests: a release folder holding only its score
file (``labels.csv``: image, type, ref, mos), registered under a dataset name, and done run
folders whose predictions are scored on exactly that dataset's fold test sets, so the
readers can check them against the protocol's folds and the dataset's scores.

Readers never open an image, so the release has no image files. The run configs name the
release with ``data.paths`` (as ``--set data.NAME=PATH`` would), the way a reader finds a
dataset on this machine.
"""
from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np

from bench.core.config import config_hash, with_method_settings
from bench.data.records import Dataset, Record
from bench.data.registry import DATASETS, DatasetSpec, dataset_names
from bench.core.metrics import all_metrics
from bench.core.profiles import profile_config
from bench.core.record import RunFolder, RunRecord, folder_name
from bench.core.registry import METHODS

DISPLAY = {"erm": "Baseline", "cis": "CIS", "cip": "CIP", "metaiqa": "MetaIQA"}


def write_release(folder: Path, types=("GB", "LB", "MB"), per_type: int = 30, seed: int = 0) -> Path:
    """``folder/labels.csv``: ``per_type`` images per distortion type, 5 references, MOS
    uniform in [0, 1] (6 decimals, as a score file holds them)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "type", "ref", "mos"])
        for t in types:
            for i in range(per_type):
                w.writerow([f"{t}/img{i:03d}.png", t, f"ref{i % 5}", f"{rng.uniform(0, 1):.6f}"])
    return folder


def loader(name: str):
    """A loader reading :func:`write_release`'s labels.csv as dataset ``name``."""

    def load(root: Path) -> Dataset:
        with open(Path(root) / "labels.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        records = [Record(image=r["image"], mos=float(r["mos"]), mos_raw=float(r["mos"]),
                          ref=r["ref"], dist_type=r["type"]) for r in rows]
        types = list(dict.fromkeys(r["type"] for r in rows))
        return Dataset(name, Path(root), records, "synthetic", types)

    return load


def register(name: str, monkeypatch=None) -> None:
    """Register the release loader as dataset ``name`` (a release read from
    ``data.paths``); through ``monkeypatch`` when given, so the test undoes it."""
    dataset_names()   # the real loaders first, so the registry is complete
    spec = DatasetSpec(name, loader(name), kind="synthetic", synthetic=False)
    if monkeypatch is not None:
        monkeypatch.setitem(DATASETS, name, spec)
    else:
        DATASETS[name] = spec


def run_config(name: str, release: Path, method: str, fold: str, seed: int,
               profile: str = "smoke", **changes) -> dict:
    """The resolved config of one LODO fold of ``method`` on dataset ``name``."""
    cfg = profile_config(profile)
    cfg.update(seed=seed, method=method, fold=fold, code_version="0.1.0",
               protocol={"name": "lodo", "dataset": name})
    cfg["data"]["paths"] = {name: str(release)}
    if method in METHODS:
        with_method_settings(cfg)
    for key, value in changes.items():
        node = cfg
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return cfg


def make_lodo_run(runs: Path, name: str, release: Path, fold: str, method: str = "cis",
                  seed: int = 0, noise: float = 0.3, profile: str = "smoke",
                  facts: dict | None = None, **changes) -> Path:
    """One done LODO run folder of ``method`` on held-out type ``fold`` of the release:
    its predictions are the held-out images' MOS plus Gaussian noise (seeded by method,
    seed and fold), its metrics computed from them as the runner does."""
    ds = loader(name)(release)
    test = [r for r in ds.records if r.dist_type == fold]
    mos = np.array([r.mos for r in test])
    rng = np.random.default_rng(zlib.crc32(repr((method, seed, fold)).encode()))
    pred = mos + rng.normal(0, noise, len(test))
    cfg = run_config(name, release, method, fold, seed, profile, **changes)
    record = RunRecord(protocol="lodo", protocol_version=1, fold=fold, method=method,
                       method_display=DISPLAY.get(method, method), dataset=name, seed=seed,
                       profile=profile, backbone=cfg["model"]["backbone"],
                       targets={name: all_metrics(pred, mos)},
                       facts={"extra_train": [], **(facts or {})})
    folder = RunFolder(Path(runs) / folder_name(cfg, config_hash(cfg)))
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.begin(cfg)
    folder.finish(record, [{"target": name, "image": r.image, "mos": r.mos, "prediction": p}
                           for r, p in zip(test, pred)])
    return folder.path


def at_hand(tmp_path: Path, monkeypatch, name: str = "syn-kadid", types=("GB", "LB"),
            per_type: int = 30) -> Path:
    """A release of ``types`` written under ``tmp_path`` and registered as dataset ``name``
    for this test (replacing the synthetic set of that name, which is never at hand in
    the tests); returns its folder, for :func:`make_lodo_run`."""
    release = write_release(Path(tmp_path) / f"release-{name}", types, per_type)
    register(name, monkeypatch)
    return release
