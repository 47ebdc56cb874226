"""Finished run folders read into one table (one row per run and test target), for every
reader: report, leaderboard, check, compare, score and run's summary.

Every folder goes through :func:`bench.core.record.read_records` (regular files inside the
runs folder only, size-capped; symlinked folders named) and then :mod:`bench.app.verify`: the
record must agree with its config, be reproduced by its ``predictions.csv`` (n >= 2 per
target) and, where the dataset is at hand, score exactly its fold's test images. Several
copies of one run (same setting, fold, seed and split) are refused by name, never averaged.
A folder that fails is named and skipped, with a count (:func:`bench.core.record.skipped_notice`),
never guessed at. Text shown from a record is sanitised as it is read
(:mod:`bench.core.display_text`).

Completeness comes from the protocol (:mod:`bench.app.expected`): each (run, target) row
carries an ``expected`` (bench.app.expected.Expected) that :func:`summarise_rows` applies.

A run's *setting* is its identity (``config.json`` as read, less the keys that never change
a result, :func:`bench.core.config.identity`) without the seed, the fold and the split: runs of
one setting may be aggregated together (seeds, folds, splits); runs of different settings
never are. ``setting_label`` names what sets a setting apart from the others of the same
protocol, method and training set ('train.epochs=0'), '' when it is the only one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from ..core.display_text import clean
from .columns import ATTR, TABLE_COLUMNS, declared_columns, record_columns
from .expected import DataAtHand, Expected, universe_key
from ..core.record import BadRunFolder, RunFolder, RunRecord, read_records, skipped_notice
from ..core.summary import unit_of, with_expectation

COLUMNS = list(TABLE_COLUMNS)   # and the setting columns, after backbone
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
    """The flattened identity of a run's config without seed, fold and split: what
    ``_flatten(bench.core.config.identity(config))`` gives less :data:`WITHIN_SETTING`, without
    the deep copy (readers call it once per run folder)."""
    from ..core.config import NON_IDENTITY_KEYS

    out: dict = {}

    def walk(tree: dict, prefix: str) -> bool:
        emitted = False
        for k, v in tree.items():
            path = f"{prefix}{k}"
            if path in NON_IDENTITY_KEYS:
                continue
            if isinstance(v, dict) and v:
                if not walk(v, path + "."):
                    out[path] = {}            # identity() leaves an emptied sub-tree behind
            else:
                out[path] = v
            emitted = True
        return emitted

    walk(config or {}, "")
    return {k: v for k, v in out.items() if k not in WITHIN_SETTING}


def setting_key(config: dict, setting: Optional[dict] = None) -> str:
    """A short stable hash of :func:`setting_of` (``setting``, when already computed)."""
    blob = json.dumps(setting_of(config) if setting is None else setting, sort_keys=True,
                      default=str)
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
        parts = [f"{clean(k, 60)}={clean(s.get(k), 60)}" for k in differ[:shown]]
        more = f" +{len(differ) - shown} more" if len(differ) > shown else ""
        out[skey] = clean(", ".join(parts) + more, 240)
    return out


class LoadedRun(NamedTuple):
    """A finished run that passed every reader check: its folder, its record (text fields
    sanitised for display), its config.json as read, its setting key, and per target what
    the protocol defines for it (bench.app.expected.Expected), and its flat setting
    (:func:`setting_of`)."""

    folder: RunFolder
    record: RunRecord
    config: dict
    setting: str
    expected: dict
    flat: dict


def display_record(folder: RunFolder, rec: RunRecord) -> RunRecord:
    """``rec`` with its text fields and target names sanitised (bench.core.display_text),
    its method's name followed by the record's ``init_label`` ('CIS (random init)') where
    it has one; BadRunFolder when two target names become one."""
    text = {f: clean(getattr(rec, f)) for f in ("protocol", "fold", "method", "method_display",
                                                  "dataset", "profile", "backbone")}
    label = rec.facts.get("init_label")    # e.g. 'random init' on the paper profile
    if isinstance(label, str) and clean(label, 40):
        text["method_display"] = clean(f"{text['method_display']} ({clean(label, 40)})")
    targets = {clean(t): m for t, m in rec.targets.items()}
    if len(targets) != len(rec.targets):
        raise BadRunFolder(folder.path, "two of its target names differ only in control "
                                        "characters or whitespace")
    return dataclasses.replace(rec, targets=targets, **text)


def refuse_copies(runs: list) -> tuple[list, list[BadRunFolder]]:
    """(runs, refused): every folder of a (setting, fold, seed, split) that several folders
    hold is refused, naming the others; copies of one run are never averaged."""
    groups: dict = {}
    for run in runs:
        folder, rec, cfg, skey = run[:4]
        groups.setdefault((skey, rec.fold, rec.seed, rec.facts.get("split")), []).append(run)
    keep, refused = [], []
    for (_, fold, seed, _), group in groups.items():
        if len(group) == 1:
            keep += group
            continue
        names = [str(g[0].path) for g in group]
        for g, name in zip(group, names):
            others = ", ".join(n for n in names if n != name)
            refused.append(BadRunFolder(g[0].path, f"copies are never averaged: {len(group)} "
                                        f"folders hold one run (same setting, fold "
                                        f"{clean(fold, 40)}, seed {seed}); keep one of them: "
                                        f"this and {others}"))
    return keep, refused


def _expectations(runs: list, data: DataAtHand) -> list[LoadedRun]:
    """The runs with what the protocol defines for each target; where that is unknown here,
    with the units that runs of the same protocol, options and data cover."""
    out, seen = [], {}
    for folder, rec, cfg, skey, shown, flat in runs:
        cols = protocol_class(rec.protocol).key_columns
        exp = {clean(t): data.expected(cfg, rec.seed, t, cols) for t in rec.targets}
        for t in exp:
            seen.setdefault((universe_key(cfg), t), set()).add(unit_of(shown, cols))
        out.append(LoadedRun(folder, shown, cfg, skey, exp, flat))
    for run in out:
        for t, e in run.expected.items():
            if e.why:
                run.expected[t] = Expected(None, e.why, frozenset(seen[(universe_key(run.config), t)]))
    return out


def load_records(out_dir: Path | str, kinds=("run", "submission"),
                 log: Optional[Callable[[str], None]] = None,
                 data: Optional[DataAtHand] = None) -> tuple[list[LoadedRun], list[BadRunFolder]]:
    """(items, bad): a :class:`LoadedRun` for every finished run under ``out_dir`` that
    passes the reader checks (module docstring); bad the BadRunFolder of each folder
    skipped (also reported through ``log``, stderr by default, as one line with the count).
    ``data``: the datasets at hand (opened as needed when not given)."""
    from .verify import check_run

    good, bad = read_records(out_dir, kinds)
    data = data or DataAtHand()
    runs = []
    for folder, rec, cfg in good:
        try:
            check_run(folder, rec, cfg, data)
            flat = setting_of(cfg)
            runs.append((folder, rec, cfg, setting_key(cfg, flat), display_record(folder, rec), flat))
        except BadRunFolder as exc:
            bad.append(exc)
    runs, copies = refuse_copies(runs)
    bad += copies
    notice = skipped_notice(bad)
    if notice:
        (log or (lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)))(notice)
    return _expectations(runs, data), bad


def load_results(out_dir: Path | str = "runs", log: Optional[Callable[[str], None]] = None):
    """DataFrame of every valid finished run under ``out_dir``: one row per (run, target)
    with the columns of COLUMNS (``record``: the RunRecord; ``config``: config.json as
    read) and, after ``backbone``, one column per setting a run recorded as a column
    (bench.app.columns; missing where a run has no such setting), ``df.attrs['setting_columns']``
    their names in words. Unfinished folders are ignored; invalid ones are named and skipped
    (see :func:`load_records`); ``df.attrs['skipped']`` holds them."""
    import pandas as pd

    items, bad = load_records(out_dir, log=log)
    settings, groups = {}, {}
    for run in items:
        settings[run.setting] = run.flat
        rec = run.record
        groups.setdefault((rec.protocol, rec.method, rec.dataset), {})[run.setting] = settings[run.setting]
    labels = {}
    for group in groups.values():
        labels.update(setting_labels(group))
    rows, words, known = [], {}, declared_columns()
    for folder, rec, cfg, key, expected, _ in items:
        cols = record_columns(rec.facts, cfg, reserved=COLUMNS, known=known)
        for k, (word, _) in cols.items():
            words.setdefault(k, word)
        for target, t in rec.targets.items():
            rows.append({
                "protocol": rec.protocol, "protocol_version": rec.protocol_version,
                "method": rec.method, "method_display": rec.method_display,
                "dataset": rec.dataset, "target": target, "fold": rec.fold,
                "backbone": rec.backbone, **{k: v for k, (_, v) in cols.items()},
                "train_ratio": rec.facts.get("train_ratio", float("nan")),
                "profile": rec.profile, "seed": rec.seed, "split": rec.facts.get("split", -1),
                "n": t["n"], "srocc": t["srocc"], "plcc": t["plcc"], "krcc": t["krcc"],
                "plcc_logistic": t["plcc_logistic"], "run_dir": str(folder.path),
                "predictions": str(folder.path / "predictions.csv"), "kind": rec.kind,
                "setting": key, "setting_label": labels.get(key, ""), "record": rec,
                "config": cfg, "expected": expected.get(target),
            })
    at = COLUMNS.index("backbone") + 1
    df = pd.DataFrame(rows, columns=[*COLUMNS[:at], *words, *COLUMNS[at:]])
    df.attrs["skipped"] = bad
    df.attrs[ATTR] = words
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
    summaries = protocol.summarise(records, folders)
    given = rows["expected"] if "expected" in rows.columns else [None] * len(rows)
    return {t: with_expectation(s, combined([e for e, tt in zip(given, rows["target"]) if tt == t]))
            for t, s in summaries.items()}


def combined(expected: list) -> Optional[Expected]:
    """One Expected for a setting's runs on one target: the union of the units each run's
    protocol defines; unknown (with the first reason and every unit seen) when one is
    unknown; None when a row carries none (a table not made by :func:`load_results`)."""
    if not expected or any(e is None for e in expected):
        return None
    unknown = [e for e in expected if e.why]
    if unknown:
        return Expected(None, unknown[0].why, frozenset().union(*(e.seen for e in unknown)))
    if all(e.units is None for e in expected):
        return Expected()
    return Expected(frozenset().union(*(e.units or frozenset() for e in expected)))


def protocol_class(name: str):
    """The registered protocol ``name``; the base Protocol (mean over folds) for the runs
    of a protocol whose plug-in is no longer installed."""
    from ..engine.protocol import Protocol
    from ..core.registry import PROTOCOLS

    return PROTOCOLS.get(name) if name in PROTOCOLS else Protocol
