"""Metric regression check against a committed baseline CSV.

Baseline columns: ``metric,protocol,method,dataset,value,tolerance`` (required) and, as
optional filters, any of :data:`FILTER_COLUMNS` (e.g. ``fold``, ``target``, ``backbone``);
an empty filter cell matches everything. The measured value of a baseline row is the mean
over its matching runs, taken per (fold, target) first and then across them -- so a LODO row
without ``fold`` compares the average over folds, whatever the number of seeds per fold.
A row regresses when ``measured < value - tolerance``; a row no run matches is an error.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.errors import BenchError

REQUIRED = ("metric", "protocol", "method", "dataset", "value", "tolerance")
KEY = ("metric", "protocol", "method", "dataset")
METRICS = ("srocc", "plcc", "krcc", "plcc_logistic")
FILTER_COLUMNS = ("fold", "target", "backbone", "profile", "clusters", "train_ratio",
                  "seed", "split")
IGNORED_COLUMNS = ("note", "comment")
WRITE_FILTERS = ("target", "backbone", "profile", "clusters", "train_ratio")
_EPS = 1e-9


def load_baseline(path: str | Path) -> pd.DataFrame:
    """Read and validate a baseline CSV; BenchError naming the problem (file, line, column)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BenchError(f"baseline file {path} not found; write one with "
                         "`python -m bench check --write-baseline FILE`") from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BenchError(f"cannot read baseline {path}: {exc}") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BenchError(f"baseline {path} lacks column(s) {', '.join(missing)}; "
                         f"required: {','.join(REQUIRED)}")
    unknown = [c for c in df.columns if c not in (*REQUIRED, *FILTER_COLUMNS, *IGNORED_COLUMNS)]
    if unknown:
        raise BenchError(f"baseline {path}: unknown column(s) {', '.join(unknown)}; optional "
                         f"filter columns: {', '.join(FILTER_COLUMNS)}")
    df = df.apply(lambda col: col.str.strip())
    df["metric"] = df["metric"].str.lower()
    for i, row in df.iterrows():
        line = i + 2
        if row["metric"] not in METRICS:
            raise BenchError(f"baseline {path} line {line}: unknown metric '{row['metric']}'; "
                             f"valid: {', '.join(METRICS)}")
        for col in ("value", "tolerance"):
            try:
                float(row[col])
            except ValueError:
                raise BenchError(f"baseline {path} line {line}: {col} '{row[col]}' is not a number") from None
    df["value"] = df["value"].astype(float)
    df["tolerance"] = df["tolerance"].astype(float)
    df.insert(0, "line", range(2, len(df) + 2))
    return df


def _match(col: pd.Series, text: str) -> pd.Series:
    """Rows of ``col`` equal to the baseline cell ``text`` (numbers compared as numbers)."""
    if pd.api.types.is_numeric_dtype(col):
        try:
            return (col.astype(float) - float(text)).abs() < _EPS
        except ValueError:
            return pd.Series(False, index=col.index)
    return col.astype(str) == text


def matching_runs(results: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    """The runs a baseline row refers to: its key columns and its non-empty filters."""
    mask = pd.Series(True, index=results.index)
    for col in ("protocol", "method", "dataset", *FILTER_COLUMNS):
        text = row.get(col, "")
        if col in ("protocol", "method", "dataset") or (isinstance(text, str) and text):
            if col not in results.columns:
                return results.iloc[0:0]
            mask &= _match(results[col], str(text))
    return results[mask]


def measured_value(runs: pd.DataFrame, metric: str) -> float:
    """Mean of ``metric`` per (fold, target), then across them (NaN for no runs)."""
    vals = runs.dropna(subset=[metric])
    if vals.empty:
        return math.nan
    by = [c for c in ("fold", "target") if c in vals.columns]
    per = vals.groupby(by, dropna=False, sort=True)[metric].mean() if by else vals[metric]
    return float(per.mean())


def _where(row: pd.Series) -> str:
    """The non-empty filters of a baseline row, as 'target=livec fold=GB'."""
    return " ".join(f"{c}={row[c]}" for c in FILTER_COLUMNS if c in row.index and row[c])


def compare(baseline: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One line per baseline row: the measured value, the run count and a status
    ('ok', 'REGRESSED', or 'MISSING' when no run matches)."""
    out = []
    for _, row in baseline.iterrows():
        runs = matching_runs(results, row) if results is not None and not results.empty else results
        n = 0 if runs is None else len(runs)
        measured = measured_value(runs, row["metric"]) if n else math.nan
        floor = row["value"] - row["tolerance"]
        status = ("MISSING" if math.isnan(measured)
                  else "REGRESSED" if measured < floor - _EPS else "ok")
        out.append({"line": row["line"], "metric": row["metric"], "protocol": row["protocol"],
                    "method": row["method"], "dataset": row["dataset"], "where": _where(row),
                    "measured": measured, "baseline": row["value"],
                    "tolerance": row["tolerance"], "runs": n, "status": status})
    return pd.DataFrame(out, columns=["line", "metric", "protocol", "method", "dataset", "where",
                                      "measured", "baseline", "tolerance", "runs", "status"])


def describe(row: pd.Series) -> str:
    """A compact name for one compared row: 'line 3 (srocc lodo cis syn-kadid target=...)'."""
    parts = [row["metric"], row["protocol"], row["method"], row["dataset"], row["where"]]
    return f"line {row['line']} ({' '.join(p for p in parts if p)})"


def format_table(report: pd.DataFrame) -> str:
    """The comparison as a fixed-width text table."""
    shown = report.copy()
    for col in ("measured", "baseline", "tolerance"):
        shown[col] = shown[col].map(lambda v: "-" if pd.isna(v) else f"{v:.4f}")
    return shown.to_string(index=False)


def write_baseline(results: pd.DataFrame, tolerance: float,
                   metrics: tuple[str, ...] = ("srocc", "plcc")) -> pd.DataFrame:
    """A baseline at the current measured values: one row per metric and per (protocol,
    method, dataset, target, backbone, profile, clusters, train_ratio) group of runs."""
    if results is None or results.empty:
        raise BenchError("no finished runs to write a baseline from")
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise BenchError(f"unknown metric(s) {', '.join(bad)}; valid: {', '.join(METRICS)}")
    keys = ["protocol", "method", "dataset", *[c for c in WRITE_FILTERS if c in results.columns]]
    rows = []
    for key, grp in results.groupby(keys, dropna=False, sort=True):
        for metric in metrics:
            value = measured_value(grp, metric)
            if math.isnan(value):
                continue
            row = {"metric": metric, **dict(zip(keys, key)), "value": value, "tolerance": tolerance}
            rows.append({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return pd.DataFrame(rows, columns=["metric", *keys, "value", "tolerance"])
