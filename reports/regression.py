"""Metric regression check against a committed baseline CSV.

Baseline columns: ``metric,protocol,method,dataset,value,tolerance`` (required), as
optional filters any of :func:`filter_columns` (e.g. ``fold``, ``target``, ``backbone``,
and the setting columns registered methods declare, such as ``clusters``, matched against
the values runs effectively used; an empty filter cell matches everything), and ``folds``: how many folds (or splits, or
seeds for a one-fold protocol) the baseline value was measured over.

The measured value of a baseline row is its protocol's own summary
(:meth:`bench.engine.protocol.Protocol.summarise`: LODO the mean over folds of each fold's mean
over seeds, fine-tune the median over splits), averaged over the targets when the row
names none. A row fails when:

* ``MISSING``: no finished run matches it (an error);
* ``MIXED``: its runs have different settings (identities that differ in more than seed,
  fold or split, e.g. a run with ``train.epochs=0`` beside the others);
* ``INCOMPLETE``: fewer folds/splits have runs than the baseline's ``folds`` or than the
  protocol defines over the dataset (rows filtering on ``fold`` or ``split`` are checked
  against ``folds`` only); a record's own ``fold_count`` is never believed;
* ``UNVERIFIED``: the dataset is not at hand, so nothing says how many folds the protocol
  defines, and the baseline row gives no ``folds`` count to check against;
* ``REGRESSED``: ``measured < value - tolerance``.

A baseline whose value or tolerance is not a finite number, or whose tolerance is
negative, is refused when it is read (such a row would pass whatever was measured).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.core.display_text import clean
from bench.core.errors import BenchError

REQUIRED = ("metric", "protocol", "method", "dataset", "value", "tolerance")
KEY = ("metric", "protocol", "method", "dataset")
METRICS = ("srocc", "plcc", "krcc", "plcc_logistic")
# the filters every baseline may use; the setting columns come between profile and train_ratio
FILTER_COLUMNS = ("fold", "target", "backbone", "profile", "train_ratio", "seed", "split")
IGNORED_COLUMNS = ("note", "comment")
COUNT_COLUMN = "folds"
WRITE_FILTERS = ("target", "backbone", "profile", "train_ratio")
_EPS = 1e-9


def filter_columns(settings=None) -> tuple[str, ...]:
    """:data:`FILTER_COLUMNS` with the setting columns (keys) ``settings`` names, by default
    those registered methods declare (bench.app.columns.declared_columns), after profile."""
    from bench.app.columns import declared_columns

    keys = [k for k in (declared_columns() if settings is None else settings)
            if k not in FILTER_COLUMNS]
    at = FILTER_COLUMNS.index("train_ratio")
    return (*FILTER_COLUMNS[:at], *keys, *FILTER_COLUMNS[at:])


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
    filters = filter_columns()
    unknown = [c for c in df.columns
               if c not in (*REQUIRED, *filters, *IGNORED_COLUMNS, COUNT_COLUMN)]
    if unknown:
        raise BenchError(f"baseline {path}: unknown column(s) {', '.join(unknown)}; optional "
                         f"filter columns: {', '.join(filters)}")
    df = df.apply(lambda col: col.str.strip())
    df["metric"] = df["metric"].str.lower()
    for i, row in df.iterrows():
        line = i + 2
        if row["metric"] not in METRICS:
            raise BenchError(f"baseline {path} line {line}: unknown metric '{row['metric']}'; "
                             f"valid: {', '.join(METRICS)}")
        for col in ("value", "tolerance"):
            try:
                number = float(row[col])
            except ValueError:
                raise BenchError(f"baseline {path} line {line}: {col} '{clean(row[col], 40)}' is "
                                 "not a number") from None
            if not math.isfinite(number):
                raise BenchError(f"baseline {path} line {line}: {col} '{clean(row[col], 40)}' is "
                                 "not a finite number; give the value and tolerance to check "
                                 "against as finite numbers")
            if col == "tolerance" and number < 0:
                raise BenchError(f"baseline {path} line {line}: tolerance {row[col]} is negative; "
                                 "give a tolerance >= 0")
        count = row.get(COUNT_COLUMN, "")
        if count and not (count.isdigit() and int(count) > 0):
            raise BenchError(f"baseline {path} line {line}: {COUNT_COLUMN} '{count}' is not a "
                             "positive integer")
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
    for col in ("protocol", "method", "dataset", *filter_columns()):
        text = row.get(col, "")
        if col in ("protocol", "method", "dataset") or (isinstance(text, str) and text):
            if col not in results.columns:
                return results.iloc[0:0]
            mask &= _match(results[col], str(text))
    return results[mask]


@dataclass
class Measure:
    """A baseline row's measurement: ``value`` (NaN for no runs), ``units`` (folds, splits
    or seeds measured; the fewest over targets), ``expected`` (units the protocol defines,
    None when unknown; a lower bound when ``unverified``), ``settings`` (labels of the
    distinct settings among the runs), ``missing`` (units the protocol defines without
    runs) and ``unverified`` (why completeness could not be checked; '' when it was)."""

    value: float
    units: int = 0
    expected: int | None = None
    settings: tuple = ()
    missing: tuple = ()
    unverified: str = ""


def measure(runs: pd.DataFrame, metric: str) -> Measure:
    """The protocol's summary of ``runs`` (rows of one protocol) on ``metric``, averaged
    over targets; the value is NaN when several settings are mixed (never averaged)."""
    from bench.app.results import summarise_rows

    if runs is None or runs.empty:
        return Measure(math.nan)
    labels = tuple(sorted({str(x) or "(default)" for x in runs["setting_label"]}))
    if runs["setting"].nunique() > 1:
        return Measure(math.nan, settings=labels)
    by_target = summarise_rows(runs)
    summaries = [by_target[t] for t in dict.fromkeys(runs["target"])]
    values = [x[metric].value for x in summaries if not math.isnan(x[metric].value)]
    expected = [x.expected for x in summaries if x.expected is not None]
    missing = tuple(sorted({u for x in summaries for u in x.missing}))
    why = next((x.unverified for x in summaries if x.unverified), "")
    return Measure(sum(values) / len(values) if values else math.nan,
                   min(x.units for x in summaries), max(expected) if expected else None, labels,
                   missing, why)


def measured_value(runs: pd.DataFrame, metric: str) -> float:
    """:func:`measure`'s value alone."""
    return measure(runs, metric).value


def _where(row: pd.Series) -> str:
    """The non-empty filters of a baseline row, as 'target=livec fold=GB'."""
    return " ".join(f"{c}={row[c]}" for c in filter_columns() if c in row.index and row[c])


def _status(row: pd.Series, m: Measure, n: int) -> tuple[str, str]:
    """(status, why) of one baseline row measured as ``m`` over ``n`` matching rows."""
    if not n:
        return "MISSING", "no finished run matches it"
    if len(m.settings) > 1:
        return "MIXED", f"its runs mix {len(m.settings)} settings: {' | '.join(m.settings)}"
    want = row.get(COUNT_COLUMN, "")
    if isinstance(want, str) and want and m.units < int(want):
        return "INCOMPLETE", f"{m.units} of the baseline's {want} folds have runs"
    filtered = any(isinstance(row.get(c, ""), str) and row.get(c, "") for c in ("fold", "split"))
    if not filtered and (m.missing or (m.expected is not None and m.units < m.expected)):
        shown = ", ".join(clean(u, 40) for u in m.missing[:5]) + (", ..." if len(m.missing) > 5 else "")
        if m.unverified:
            return "INCOMPLETE", (f"{m.units} of at least {m.expected} folds have runs (other runs "
                                  f"of this protocol and data cover {shown}; {m.unverified})")
        return "INCOMPLETE", (f"{m.units} of the protocol's {m.expected} folds have runs"
                              + (f" (missing: {shown})" if shown else ""))
    if not filtered and m.unverified and not (isinstance(want, str) and want):
        return "UNVERIFIED", (f"cannot tell whether its runs cover every fold: {m.unverified}; "
                              "check where the dataset is, or give the baseline row a folds count")
    if math.isnan(m.value):
        return "MISSING", "the matching runs' metric is undefined (NaN)"
    if m.value < row["value"] - row["tolerance"] - _EPS:
        return "REGRESSED", ""
    return "ok", ""


def compare(baseline: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One line per baseline row: the measured value, the run count, the folds measured,
    a status ('ok', 'REGRESSED', 'INCOMPLETE', 'UNVERIFIED', 'MIXED' or 'MISSING') and why."""
    out = []
    for _, row in baseline.iterrows():
        runs = matching_runs(results, row) if results is not None and not results.empty else results
        n = 0 if runs is None else runs["run_dir"].nunique()
        m = measure(runs, row["metric"]) if n else Measure(math.nan)
        status, why = _status(row, m, n)
        out.append({"line": row["line"], "metric": row["metric"], "protocol": row["protocol"],
                    "method": row["method"], "dataset": row["dataset"], "where": _where(row),
                    "measured": m.value, "baseline": row["value"],
                    "tolerance": row["tolerance"], "runs": n, "folds": m.units,
                    "status": status, "why": why})
    return pd.DataFrame(out, columns=["line", "metric", "protocol", "method", "dataset", "where",
                                      "measured", "baseline", "tolerance", "runs", "folds",
                                      "status", "why"])


def describe(row: pd.Series) -> str:
    """A compact name for one compared row: 'line 3 (srocc lodo cis syn-kadid target=...)'."""
    parts = [row["metric"], row["protocol"], row["method"], row["dataset"], row["where"]]
    return f"line {row['line']} ({' '.join(clean(p, 200) for p in parts if p)})"


def format_table(report: pd.DataFrame) -> str:
    """The comparison as a fixed-width text table."""
    shown = report.drop(columns=["why"], errors="ignore").copy()
    for col in ("measured", "baseline", "tolerance"):
        shown[col] = shown[col].map(lambda v: "-" if pd.isna(v) else f"{v:.4f}")
    for col in ("metric", "protocol", "method", "dataset", "where", "status"):
        if col in shown.columns:     # baseline text is shown on a terminal: sanitised
            shown[col] = shown[col].map(lambda v: clean(v, 200))
    return shown.to_string(index=False)


def write_baseline(results: pd.DataFrame, tolerance: float,
                   metrics: tuple[str, ...] = ("srocc", "plcc")) -> pd.DataFrame:
    """A baseline at the current measured values: one row per metric and per (protocol,
    method, dataset, target, backbone, profile, setting columns (bench.app.columns),
    train_ratio) group of runs, with the folds measured; BenchError when a group mixes
    settings."""
    if results is None or results.empty:
        raise BenchError("no finished runs to write a baseline from")
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise BenchError(f"unknown metric(s) {', '.join(bad)}; valid: {', '.join(METRICS)}")
    from bench.app.columns import setting_columns

    at = WRITE_FILTERS.index("train_ratio")
    written = (*WRITE_FILTERS[:at], *setting_columns(results), *WRITE_FILTERS[at:])
    keys = ["protocol", "method", "dataset", *[c for c in written if c in results.columns]]
    rows = []
    for key, grp in results.groupby(keys, dropna=False, sort=True):
        for metric in metrics:
            m = measure(grp, metric)
            if len(m.settings) > 1:
                raise BenchError(f"runs of {' '.join(str(k) for k in key[:3])} mix settings "
                                 f"({' | '.join(m.settings)}); write a baseline from one "
                                 "setting's runs (pass --runs to a folder holding only them)")
            if math.isnan(m.value):
                continue
            row = {"metric": metric, **dict(zip(keys, key)), "value": m.value,
                   "tolerance": tolerance, COUNT_COLUMN: m.units}
            rows.append({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return pd.DataFrame(rows, columns=["metric", *keys, "value", "tolerance", COUNT_COLUMN])
