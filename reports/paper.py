"""The paper's published numbers (Tables 2-12 of Causal-IQA, ICML 2024) as a DataFrame.

``paper_numbers.csv`` beside this module holds every cell, one per line (see
``reports/README.md`` for the column meanings and the transcription decisions). A cell the
paper prints as '/' (not reported) is kept with an empty ``value`` (NaN once loaded), so
every table is a full grid.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

PAPER_CSV = Path(__file__).with_name("paper_numbers.csv")

COLUMNS = ["table", "row", "group", "metric", "value", "bold", "method", "method_name",
           "target", "fold", "backbone"]
_TEXT_COLUMNS = [c for c in COLUMNS if c not in ("table", "value", "bold")]


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=False, na_values={"value": [""]},
                     dtype={c: str for c in _TEXT_COLUMNS})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    df["value"] = df["value"].astype(float)
    df["bold"] = df["bold"].astype(int).astype(bool)
    df["table"] = df["table"].astype(int)
    return df[COLUMNS]


def load_paper_numbers(path: str | Path | None = None) -> pd.DataFrame:
    """All published cells as a DataFrame (a fresh copy; ``value`` NaN where the paper prints '/')."""
    return _load(str(path or PAPER_CSV)).copy()


def paper_table(table_id: int, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cells of one table, in the paper's order; KeyError if the table is unknown."""
    df = load_paper_numbers() if df is None else df
    out = df[df["table"] == int(table_id)]
    if out.empty:
        raise KeyError(f"no published numbers for table {table_id}")
    return out.reset_index(drop=True)


def paper_value(table_id: int, row: str, group: str, metric: str = "SROCC",
                df: pd.DataFrame | None = None) -> float:
    """One published value by its printed labels (NaN for a '/' cell); KeyError if absent."""
    t = paper_table(table_id, df)
    hit = t[(t["row"] == row) & (t["group"] == group) & (t["metric"] == metric)]
    if len(hit) != 1:
        raise KeyError(f"table {table_id}: no single cell ({row!r}, {group!r}, {metric!r})")
    return float(hit["value"].iloc[0])


def published(df: pd.DataFrame | None = None, **where: object) -> pd.DataFrame:
    """Cells matching every ``column=value`` filter, e.g. ``published(method='cis', table=3)``."""
    df = load_paper_numbers() if df is None else df
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        if col not in df.columns:
            raise KeyError(f"unknown column {col!r}; columns: {', '.join(df.columns)}")
        mask &= df[col] == val
    return df[mask].reset_index(drop=True)
