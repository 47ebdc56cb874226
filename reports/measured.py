"""Measured runs for one table: select the runs that feed it, label its measured entities
(methods or backbones), and aggregate each cell over seeds and splits.

The input is the one-row-per-run DataFrame of ``bench.app.results.load_results``. A cell's
value is its protocol's own summary (:meth:`bench.engine.protocol.Protocol.summarise`: e.g. the
median over fine-tune splits, as the leaderboard shows), with the sample std (ddof=1) over
the summarised units and their count n; a cell holding one fold shows the mean and spread
over its seeds. Runs of different settings are different entities (never averaged).
Tables built by hand without run records fall back to the mean and sample std.

A full-reference metric that built its test set's pseudo-MOS (or agrees with one at Spearman
>= 0.95; :func:`reports.fr.label_source_marks`, the FR tables' rule) is a marked entity: its
label carries the mark, it is ordered after the unmarked ones, its cells say so
(``Aggregate.mark``) so that they are never bold, and :func:`mark_notes` explains it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.app.columns import ATTR, default_columns, setting_columns

from .tables import ALL_METHODS, CLASSICAL_METHODS, DEEP_METHODS, TableSpec

METRIC_LABELS = {"plcc": "PLCC", "srocc": "SROCC", "krcc": "KRCC", "plcc_logistic": "PLCC (logistic)"}
BACKBONE_LABELS = {"resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50",
                   "smallcnn": "SmallCNN"}
BACKBONE_ORDER = ("resnet18", "resnet34", "resnet50", "smallcnn")
# the setting columns the runs recorded (bench.app.columns) come after 'profile'
VARIANT_FIELDS = ("backbone", "profile", "train_ratio", "setting_label")
TABLE_WIDE_FIELDS = ("backbone", "profile")   # labelled where they vary anywhere in a table

# Columns the reporter can do without; filled with these when a results table lacks them.
_DEFAULTS = {"fold": "", "target": "", "backbone": "", "profile": "",
             "train_ratio": math.nan, "seed": 0, "split": -1, "method_display": None,
             "setting_label": "", "setting": ""}


@dataclass(frozen=True)
class Aggregate:
    """One measured cell: mean over seeds/splits, sample std (NaN for one value), count;
    ``metric`` the results column it aggregates ('' if mixed), ``runs`` the
    (predictions file, target) of each run, for the bootstrap intervals, and ``mark`` the
    entity's label-source mark ('' if none: a marked cell is shown but never bold)."""

    mean: float
    std: float
    n: int
    metric: str = ""
    runs: tuple[tuple[str, str], ...] = ()
    mark: str = ""
    state: str = ""      # the summary's completeness: 'complete', 'incomplete', 'unverified'
    label: str = ""      # how it was aggregated ('median over 2 of 10 splits')
    why: str = ""        # why completeness is unverified, if it is


def normalise_results(results: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``results`` with the optional columns present and ``fold`` upper-cased
    (``attrs['setting_columns']`` kept: the setting columns, bench.app.columns)."""
    settings = setting_columns(results)
    df = results.copy()
    df.attrs[ATTR] = settings
    for col, default in _DEFAULTS.items():
        if col not in df.columns:
            df[col] = df["method"] if col == "method_display" else default
    df["method_display"] = df["method_display"].fillna(df["method"]).astype(str)
    df["fold"] = df["fold"].fillna("").astype(str).str.upper()
    df["target"] = df["target"].fillna("").astype(str)
    return df


def _prefer(runs: pd.DataFrame, entity: list[str], prefer: dict) -> pd.DataFrame:
    """Keep, per entity, only the runs at the preferred value of each field where it has any:
    ``prefer``'s, and for a setting column the value the entity's method uses by default
    (bench.app.columns.default_columns: the paper's, or the value an ablation pins)."""
    if runs.empty:
        return runs
    keep, columns = [], set(setting_columns(runs))
    for _, grp in runs.groupby(entity, sort=False, dropna=False):
        methods = set(grp["method"]) if "method" in grp.columns else set()
        own = default_columns(methods.pop()) if len(methods) == 1 else {}
        for fld, val in {**{k: v for k, v in own.items() if k in columns}, **prefer}.items():
            if fld in grp.columns and fld not in entity:
                hit = grp[_equal(grp[fld], val)]
                if not hit.empty:
                    grp = hit
        keep.append(grp)
    out = pd.concat(keep)
    out.attrs[ATTR] = setting_columns(runs)
    return out


def _equal(col: pd.Series, val: object) -> pd.Series:
    """Element-wise equality that treats numbers with a tolerance."""
    if isinstance(val, (int, float)) and pd.api.types.is_numeric_dtype(col):
        return (col.astype(float) - float(val)).abs() < 1e-9
    return col.astype(str) == str(val)


def select_runs(spec: TableSpec, results: pd.DataFrame, paper_methods: list[str]) -> pd.DataFrame:
    """The measured runs that feed table ``spec`` (after the spec's ``prefer`` rule)."""
    if results is None or results.empty:
        return pd.DataFrame()
    df = normalise_results(results)
    df = df[df["protocol"] == spec.protocol]
    if spec.datasets is not None:
        df = df[df["dataset"].isin(spec.datasets)]
    for col, val in spec.where.items():
        df = df[_equal(df[col], val)]
    # None: every measured method (the paper's, and any plug-in measured the same way)
    methods = spec.methods if spec.methods is not None else ("*",)
    df = df[method_matches(df["method"], methods)]
    entity = [spec.layout_spec.measured_entity, "dataset"]
    return _prefer(df, entity, dict(spec.prefer)).reset_index(drop=True)


def method_matches(names: pd.Series, methods) -> pd.Series:
    """Which ``names`` a spec's ``methods`` select: exact names, or 'prefix*' patterns
    (e.g. 'pyiqa:*' for every zero-shot pyiqa metric)."""
    exact = [m for m in methods if not m.endswith("*")]
    hit = names.isin(exact)
    for m in methods:
        if m.endswith("*"):
            hit |= names.astype(str).str.startswith(m[:-1])
    return hit


def _fmt_variant(fld: str, val: object, words: dict | None = None) -> str:
    """How a varying setting appears in a measured label (a setting column by its name in
    words, ``words``: key -> words)."""
    fmt = {"train_ratio": lambda v: f"t={float(v):g}",
           "setting_label": lambda v: str(v) or "default setting"}
    if (val is None or isinstance(val, float) and math.isnan(val)) and fld in (words or {}):
        return f"{words[fld]}=none"
    if isinstance(val, float) and math.isnan(val):
        return f"{fld}=none"
    if fld in (words or {}):
        number = isinstance(val, (int, float)) and not isinstance(val, bool)
        return f"{words[fld]}={format(float(val), 'g') if number else val}"
    return fmt.get(fld, str)(val)


def entity_order(spec: TableSpec, paper_methods: list[str]):
    """Sort key for measured entities: the paper's method order, then the registry order."""
    field_ = spec.layout_spec.measured_entity
    known = [*paper_methods, *ALL_METHODS, *CLASSICAL_METHODS, *DEEP_METHODS]
    order = {"method": list(dict.fromkeys(known)),
             "backbone": list(BACKBONE_ORDER)}[field_]

    def key(name: str):
        return (order.index(name) if name in order else len(order), name)

    return key


def label_entities(spec: TableSpec, runs: pd.DataFrame, paper_methods: list[str]) -> pd.DataFrame:
    """Add ``entity_key`` (a tuple of strings), ``entity_label``, ``entity_rank`` and
    ``entity_mark`` (its label-source mark, '' if none) columns.

    Runs at different settings are always different entities. The label names the entity
    (the method's paper name, or the backbone), the training set, the backbone/profile
    where these differ anywhere in the table (so that no comparison silently mixes them),
    and the setting columns and t where one entity has runs at several values: e.g. 'CIS (syn-kadid, measured)';
    a marked entity's label ends with its mark and it comes after the unmarked ones.
    """
    if runs.empty:
        return runs.assign(entity_key=[], entity_label=[], entity_rank=[], entity_mark=[])
    field_ = spec.layout_spec.measured_entity
    words = setting_columns(runs)
    df = runs.copy()
    fields = (*VARIANT_FIELDS[:2], *words, *VARIANT_FIELDS[2:])
    settings = [f for f in fields if f != field_ and f in df.columns]
    text = {f: df[f].astype(str) for f in settings}
    df["entity_key"] = list(zip(df[field_].astype(str), df["dataset"].astype(str),
                                *(text[f] for f in settings)))
    from .label_source import label_source_marks, strongest

    row_marks = label_source_marks(df, by=["dataset"])
    marks: dict[tuple, list[str]] = {}
    for key, mark in zip(df["entity_key"], row_marks):
        marks.setdefault(key, []).append(mark)
    df["entity_mark"] = [strongest(marks[k]) for k in df["entity_key"]]
    shown = pd.DataFrame(False, index=df.index, columns=settings)
    for f in settings:
        if f in TABLE_WIDE_FIELDS:
            shown[f] = text[f].nunique() > 1
        else:
            per_entity = text[f].groupby([df[field_], df["dataset"]]).transform("nunique")
            shown[f] = per_entity > 1

    def label(row) -> str:
        name = (row["method_display"] if field_ == "method"
                else BACKBONE_LABELS.get(row["backbone"], row["backbone"]))
        parts = [str(row["dataset"])] + [_fmt_variant(f, row[f], words) for f in settings
                                         if shown.at[row.name, f]]
        return f"{name} ({', '.join(parts)}, measured) {row['entity_mark']}".strip()

    df["entity_label"] = [label(row) for _, row in df.iterrows()]
    sort = entity_order(spec, paper_methods)
    mark_of = dict(zip(df["entity_key"], df["entity_mark"]))
    keys = sorted(df["entity_key"].unique(), key=lambda k: (mark_of[k] != "", sort(k[0]), k[1:]))
    df["entity_rank"] = df["entity_key"].map({k: i for i, k in enumerate(keys)})
    return df.sort_values("entity_rank", kind="stable")


def aggregate(spec: TableSpec, runs: pd.DataFrame) -> dict[tuple, dict[tuple, Aggregate]]:
    """``{entity_key: {shared_key: Aggregate}}`` over seeds and splits, for the spec's metrics.

    The shared key uses the paper's spellings (metric 'PLCC'/'SROCC', fold abbreviation),
    so it lines up with the published cells' keys.
    """
    lay = spec.layout_spec
    out: dict[tuple, dict[tuple, Aggregate]] = {}
    if runs.empty:
        return out
    long = runs.melt(id_vars=[c for c in runs.columns if c not in spec.metrics],
                     value_vars=[m for m in spec.metrics if m in runs.columns],
                     var_name="metric_key", value_name="metric_value")
    long["metric"] = long["metric_key"].map(lambda m: METRIC_LABELS.get(m, m.upper()))
    long = long.dropna(subset=["metric_value"])
    for ekey, grp in long.groupby("entity_key", sort=False):
        cells = out.setdefault(ekey, {})
        mark = str(grp["entity_mark"].iloc[0]) if "entity_mark" in grp.columns else ""
        for skey, vals in grp.groupby(list(lay.measured_shared), sort=False):
            skey = skey if isinstance(skey, tuple) else (skey,)
            keys = set(vals["metric_key"])
            metric = keys.pop() if len(keys) == 1 else ""
            (mean, std, n), summary = _cell_stat(vals, metric)
            extra = (summary.state, summary.label(), summary.unverified) if summary else ()
            cells[tuple(skey)] = Aggregate(mean, std, n, metric, _run_files(vals), mark, *extra)
    return out


def _cell_stat(vals: pd.DataFrame, metric: str):
    """((value, sample std, n), the protocol's Summary or None) of one cell: the
    protocol's summary of its runs' records, or over seeds when the cell holds one fold;
    mean and sample std (and no summary) without records."""
    from bench.app.results import summarise_rows
    from bench.core.summary import summarise_records

    has_records = "record" in vals.columns and vals["record"].notna().all()
    if has_records and metric and vals["protocol"].nunique() == 1 and vals["target"].nunique() == 1:
        target = vals["target"].iloc[0]
        summary = whole = summarise_rows(vals)[target]
        if summary.units == 1 and summary.seeds > 1:
            records = list(dict(zip(vals["run_dir"], vals["record"])).values())
            summary = summarise_records(records, (), "mean", "seed")[target]
        stat = summary[metric]
        return (stat.value, stat.std, stat.n), whole
    v = vals["metric_value"].astype(float)
    return (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v)), None


def _run_files(vals: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """(predictions file, target) of each run of a cell; the file defaults to the run
    folder's predictions.csv, and is '' when neither is known."""
    out = []
    for _, r in vals.iterrows():
        pred = r.get("predictions")
        if not (isinstance(pred, str) and pred):
            run_dir = r.get("run_dir")
            pred = f"{run_dir}/predictions.csv" if isinstance(run_dir, str) and run_dir else ""
        out.append((pred, str(r.get("target", "") or "")))
    return tuple(out)


def measured_header(spec: TableSpec, runs: pd.DataFrame, n_keys: int) -> str:
    """What the measured cells of a table are: profile(s), seeds and, where the table's
    rows are folds, how many of its ``n_keys`` folds were measured, e.g. 'quick profile,
    seed 0, 2 of 25 folds'."""
    profiles = sorted({str(p) for p in runs.get("profile", pd.Series(dtype=str)) if str(p)})
    seeds = sorted({int(s) for s in runs.get("seed", pd.Series(dtype=int))})
    parts = [f"{'/'.join(profiles) or 'unknown'} profile"]
    if len(seeds) == 1:
        parts.append(f"seed {seeds[0]}")
    elif seeds:
        parts.append(f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})" if seeds == list(
            range(seeds[0], seeds[-1] + 1)) else f"{len(seeds)} seeds")
    if "fold" in spec.layout_spec.measured_shared:
        folds = runs["fold"].astype(str).str.upper().nunique()
        parts.append(f"{folds} of {n_keys} folds")
    return ", ".join(parts)


def completeness_notes(spec: TableSpec, agg: dict, labels: dict) -> list[str]:
    """Notes naming the measured entities whose cells are not known to be complete (for
    layouts whose cells summarise a protocol's units; a LODO table's cells are single
    folds, its AVERAGE row says what it covers): each incomplete one with how its cells
    were aggregated, and the unverified ones together with why."""
    if "fold" in spec.layout_spec.measured_shared:
        return []
    notes, unverified, why = [], [], ""
    for ekey, cells in agg.items():
        name = labels.get(ekey, ekey[0])
        states = {k[0]: a for k, a in cells.items()}            # one per target, not per metric
        short = [f"{t}: {a.label}" for t, a in states.items() if a.state == "incomplete"]
        if short:
            notes.append(f"{name} is incomplete ({'; '.join(short[:4])}): not every unit the "
                         "protocol defines has runs.")
        elif any(a.state == "unverified" for a in states.values()):
            unverified.append(name)
            why = why or next(a.why for a in states.values() if a.why)
    if unverified:
        notes.append(f"Completeness not verified for {', '.join(unverified)}: {why}.")
    return notes


def mark_notes(runs: pd.DataFrame) -> list[str]:
    """The note lines a table needs for the label-source marks of ``runs``
    (:func:`label_entities`' output): none when no entity is marked."""
    if runs is None or runs.empty or "entity_mark" not in runs.columns:
        return []
    from .label_source import mark_notes as fr_mark_notes

    return fr_mark_notes(runs["entity_mark"], runs)
