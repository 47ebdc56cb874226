"""Finished run folders read into one table (one row per run and test target), for every
reader: report, leaderboard, check, compare, score and run's summary.

Every folder goes through :func:`bench.core.record.read_records`: a folder whose record or
``config.json`` fails validation is named and skipped, with a count
(:func:`bench.core.record.skipped_notice`), never guessed at.

A run's *setting* is its identity (``config.json`` as read, less the keys that never change
a result, :func:`bench.core.config.identity`) without the seed, the fold and the split: runs of
one setting may be aggregated together (seeds, folds, splits); runs of different settings
never are. ``setting_label`` names what sets a setting apart from the others of the same
protocol, method and training set ('train.epochs=0'), '' when it is the only one.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Callable, Optional

from ..core.record import BadRunFolder, read_records, skipped_notice

COLUMNS = ["protocol", "protocol_version", "method", "method_display", "dataset", "target",
           "fold", "backbone", "clusters", "train_ratio", "profile", "seed", "split", "n",
           "srocc", "plcc", "krcc", "plcc_logistic", "run_dir", "predictions", "kind",
           "setting", "setting_label", "record", "config"]
#: Config keys that vary within one setting (what a summary aggregates over).
WITHIN_SETTING = ("seed", "fold", "protocol.split", "data_fingerprint")  # per fold, not a setting


def _flatten(tree, prefix: str = "") -> dict:
    out = {}
    for k, v in (tree or {}).items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def setting_of(config: dict) -> dict:
    """The flattened identity of a run's config without seed, fold and split."""
    from ..core.config import identity

    flat = _flatten(identity(config))
    return {k: v for k, v in flat.items() if k not in WITHIN_SETTING}


def setting_key(config: dict) -> str:
    """A short stable hash of :func:`setting_of`."""
    blob = json.dumps(setting_of(config), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def setting_labels(settings: dict[str, dict], shown: int = 3) -> dict[str, str]:
    """Setting key -> label naming the keys whose values differ among ``settings`` (flat
    settings of one protocol, method and training set); '' for a setting that is alone."""
    if len(settings) < 2:
        return {k: "" for k in settings}
    keys = sorted(set().union(*settings.values()))
    differ = [k for k in keys if len({json.dumps(s.get(k), default=str) for s in settings.values()}) > 1]
    out = {}
    for skey, s in settings.items():
        parts = [f"{k}={s.get(k)!s}" for k in differ[:shown]]
        more = f" +{len(differ) - shown} more" if len(differ) > shown else ""
        out[skey] = ", ".join(parts) + more
    return out


def load_records(out_dir: Path | str, kinds=("run", "submission"),
                 log: Optional[Callable[[str], None]] = None):
    """(items, bad): items are (RunFolder, RunRecord, config) of every valid finished run
    under ``out_dir``; bad the BadRunFolder of each folder skipped (also reported through
    ``log``, stderr by default, as one line with the count)."""
    good, bad = read_records(out_dir, kinds)
    items = []
    for folder, rec in good:
        try:
            items.append((folder, rec, folder.read_config()))
        except BadRunFolder as exc:
            bad.append(exc)
    notice = skipped_notice(bad)
    if notice:
        (log or (lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)))(notice)
    return items, bad


def load_results(out_dir: Path | str = "runs", log: Optional[Callable[[str], None]] = None):
    """DataFrame of every valid finished run under ``out_dir``: one row per (run, target)
    with the columns of COLUMNS (``record``: the RunRecord; ``config``: config.json as
    read). Unfinished folders are ignored; invalid ones are named and skipped (see
    :func:`load_records`); ``df.attrs['skipped']`` holds them."""
    import pandas as pd

    items, bad = load_records(out_dir, log=log)
    settings, groups = {}, {}
    for _, rec, cfg in items:
        key = setting_key(cfg)
        settings[key] = setting_of(cfg)
        groups.setdefault((rec.protocol, rec.method, rec.dataset), {})[key] = settings[key]
    labels = {}
    for group in groups.values():
        labels.update(setting_labels(group))
    rows = []
    for folder, rec, cfg in items:
        key = setting_key(cfg)
        for target, t in rec.targets.items():
            rows.append({
                "protocol": rec.protocol, "protocol_version": rec.protocol_version,
                "method": rec.method, "method_display": rec.method_display,
                "dataset": rec.dataset, "target": target, "fold": rec.fold,
                "backbone": rec.backbone, "clusters": rec.facts.get("clusters"),
                "train_ratio": rec.facts.get("train_ratio", float("nan")),
                "profile": rec.profile, "seed": rec.seed, "split": rec.facts.get("split", -1),
                "n": t["n"], "srocc": t["srocc"], "plcc": t["plcc"], "krcc": t["krcc"],
                "plcc_logistic": t["plcc_logistic"], "run_dir": str(folder.path),
                "predictions": str(folder.path / "predictions.csv"), "kind": rec.kind,
                "setting": key, "setting_label": labels.get(key, ""), "record": rec,
                "config": cfg,
            })
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["skipped"] = bad
    return df


def summarise_rows(rows) -> dict:
    """Target -> Summary of the runs in ``rows`` (a slice of :func:`load_results`' table
    holding one protocol and one setting), through the protocol's own ``summarise``."""
    protocols = set(rows["protocol"])
    if len(protocols) != 1:
        raise ValueError(f"summarise_rows needs one protocol, got {sorted(protocols)}")
    protocol = protocol_class(protocols.pop())
    seen, records, folders = set(), [], []
    for rec, folder in zip(rows["record"], rows["run_dir"]):
        if folder not in seen:
            seen.add(folder)
            records.append(rec)
            folders.append(folder)
    return protocol.summarise(records, folders)


def protocol_class(name: str):
    """The registered protocol ``name``; the base Protocol (mean over folds) for the runs
    of a protocol whose plug-in is no longer installed."""
    from ..engine.protocol import Protocol
    from ..core.registry import PROTOCOLS

    return PROTOCOLS.get(name) if name in PROTOCOLS else Protocol
