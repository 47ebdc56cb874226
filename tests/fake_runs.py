"""Fake done run folders for the leaderboard, compare and bootstrap tests, written through
the one writer (bench.core.record.RunFolder with a RunRecord: config.json, predictions.csv,
metrics.json, done), without training, with predictions whose SROCC is known."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from bench.core.config import with_method_settings
from bench.core.registry import METHODS
from bench.core.config import config_hash
from bench.core.metrics import all_metrics
from bench.core.profiles import profile_config
from bench.core.record import RunFolder, RunRecord, folder_name
from bench.engine.fold import column_facts

DISPLAY = {"erm": "Baseline", "cis": "CIS", "cip": "CIP", "metaiqa": "MetaIQA"}


def _key(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def predictions(n: int, noise: float, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(image names, MOS, predictions): predictions = MOS + Gaussian noise of ``noise``."""
    rng = np.random.default_rng(seed)
    mos = rng.uniform(0, 1, n)
    return [f"images/img{i:03d}.png" for i in range(n)], mos, mos + rng.normal(0, noise, n)


def make_run(root: Path, protocol: str = "lodo", method: str = "cis", dataset: str = "syn-kadid",
             fold: str = "GB", target: str | None = None, seed: int = 0, split: int | None = None,
             train_ratio: float | None = None, noise: float = 0.3, n: int = 30,
             data_seed: int | None = None, profile: str = "smoke", fold_count: int | None = None,
             legacy_columns: bool = False, facts: dict | None = None, **cfg_changes) -> Path:
    """Write one done run folder under ``root`` and return it. Its test set (images and
    MOS) depends on (fold, target, split, data_seed) only, so runs of different methods on
    one fold share it; the predictions' noise depends on the method and seed too.
    ``cfg_changes``: dotted config keys to change (``train__lr=0.1`` for train.lr);
    ``fold_count``: the protocol's number of folds, recorded as the runner's fold facts do;
    ``legacy_columns``: the setting columns as records written before their declaration
    hold them (the config's values at the top of the facts, no ``setting_columns``);
    ``facts``: more facts to record (a plug-in's own)."""
    target = target or dataset
    cfg = profile_config(profile)
    cfg["seed"] = seed
    p = {"name": protocol}
    if protocol == "lodo":
        p["dataset"] = dataset
    else:
        p.update(train=[dataset], targets=[target])
        if protocol == "finetune":
            p.update(train_ratio=train_ratio or 0.8, splits=10)
    cfg["protocol"] = p
    cfg["method"] = method
    if method in METHODS:            # registered: its declared settings, as `run` resolves them
        with_method_settings(cfg)
    cfg["fold"] = fold
    cfg["code_version"] = "0.1.0"
    for key, value in cfg_changes.items():
        node = cfg
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    folder = Path(root) / folder_name(cfg, config_hash(cfg))
    base_seed = _key(fold, target, split) if data_seed is None else data_seed
    names, mos, _ = predictions(n, noise, base_seed)
    rng = np.random.default_rng(_key(method, seed, fold, split))
    pred = mos + rng.normal(0, noise, n)
    m = all_metrics(pred, mos)
    given, more = cfg.get("method_settings", {}), dict(facts or {})
    if legacy_columns:
        facts = {"extra_train": [], **{k: given[k] for k in given if k == "clusters"}}
    elif method in METHODS:          # as the runner records them (bench.engine.fold)
        facts = {"extra_train": [], **column_facts(METHODS.get(method), cfg)}
    else:
        facts = {"extra_train": []}
    facts.update(more)
    if split is not None:
        facts.update(split=split, train_ratio=train_ratio or 0.8)
    if fold_count is not None:
        facts["fold_count"] = fold_count
    record = RunRecord(protocol=protocol, protocol_version=1, fold=fold, method=method,
                       method_display=DISPLAY.get(method, method), dataset=dataset, seed=seed,
                       profile=profile, backbone=cfg["model"]["backbone"], targets={target: m},
                       facts=facts)
    run = RunFolder(folder)
    run.path.mkdir(parents=True, exist_ok=True)
    run.begin(cfg)
    run.finish(record, [{"target": target, "image": i, "mos": a, "prediction": b}
                        for i, a, b in zip(names, mos, pred)])
    return folder


def read_json(path: Path) -> dict:
    """A JSON file's content."""
    return json.loads(Path(path).read_text())
