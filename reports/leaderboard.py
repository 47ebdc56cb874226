"""The leaderboard: one row per method x protocol x dataset/target (x setting), with the
protocol's headline metric, best first; as text and as a sortable HTML page.

Headline per protocol:

* ``lodo``: the average over folds of SROCC (each fold first averaged over seeds), with the
  number of folds; PLCC likewise;
* ``cross``: per target, the mean SROCC and PLCC over seeds;
* ``finetune``: per target, the median SROCC and PLCC over splits (and seeds), as the paper;
* any other protocol: per target, the mean over runs.

Rows never mix settings: backbone, profile, cluster count, fine-tune ratio and protocol
version are part of the row's key (shown where they vary). Rows are grouped in blocks of
one protocol, training set and target; within a block they are ranked by SROCC, best first.
"""
from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import pandas as pd

from .measured import normalise_results

KEY = ["protocol", "dataset", "target", "method", "method_display", "backbone", "profile",
       "clusters", "train_ratio", "protocol_version"]
BLOCK = ["protocol", "dataset", "target"]
PROTOCOL_ORDER = ("lodo", "cross", "finetune")
COLUMNS = ["rank", *KEY, "srocc", "plcc", "aggregate", "n_folds", "n_splits", "n_seeds",
           "n_runs", "run_dirs"]


def _headline(protocol: str, grp: pd.DataFrame) -> dict:
    """SROCC/PLCC of one leaderboard row and how they were aggregated."""
    seeds = grp["seed"].nunique()
    if protocol == "lodo":
        per_fold = grp.groupby("fold")[["srocc", "plcc"]].mean()
        return {"srocc": per_fold["srocc"].mean(), "plcc": per_fold["plcc"].mean(),
                "aggregate": f"mean of {len(per_fold)} folds", "n_folds": len(per_fold),
                "n_splits": 0, "n_seeds": seeds}
    if protocol == "finetune":
        splits = grp[["seed", "split"]].drop_duplicates().shape[0]
        return {"srocc": grp["srocc"].median(), "plcc": grp["plcc"].median(),
                "aggregate": f"median of {len(grp)} splits", "n_folds": 0,
                "n_splits": splits, "n_seeds": seeds}
    return {"srocc": grp["srocc"].mean(), "plcc": grp["plcc"].mean(),
            "aggregate": f"mean of {len(grp)} runs" if len(grp) > 1 else "1 run",
            "n_folds": 0, "n_splits": 0, "n_seeds": seeds}


def build_leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard table (columns :data:`COLUMNS`) of ``bench.results.load_results``'s
    one-row-per-run table; empty when there are no runs."""
    if results is None or results.empty:
        return pd.DataFrame(columns=COLUMNS)
    df = normalise_results(results)
    if "protocol_version" not in df.columns:
        df["protocol_version"] = 1
    df["clusters"] = df["clusters"].astype(object).where(df["clusters"].notna(), None)
    rows = []
    for key, grp in df.groupby(KEY, sort=False, dropna=False):
        row = dict(zip(KEY, key))
        row.update(_headline(row["protocol"], grp))
        row["n_runs"] = grp["run_dir"].nunique()
        row["run_dirs"] = sorted(grp["run_dir"].astype(str).unique())
        rows.append(row)
    board = pd.DataFrame(rows)
    board["_p"] = board["protocol"].map(
        lambda p: PROTOCOL_ORDER.index(p) if p in PROTOCOL_ORDER else len(PROTOCOL_ORDER))
    board["_s"] = board["srocc"].fillna(-math.inf)
    board = board.sort_values(["_p", "protocol", "dataset", "target", "_s"],
                              ascending=[True, True, True, True, False], kind="stable")
    board["rank"] = board.groupby(BLOCK, sort=False).cumcount() + 1
    return board.drop(columns=["_p", "_s"]).reset_index(drop=True)[COLUMNS]


def _setting(row: pd.Series, varying: list[str]) -> str:
    parts = []
    for f in varying:
        v = row[f]
        if f == "clusters" and v is not None and not (isinstance(v, float) and math.isnan(v)):
            parts.append(f"c={int(v)}")
        elif f == "train_ratio" and not pd.isna(v):
            parts.append(f"t={float(v):g}")
        elif f in ("backbone", "profile") and v:
            parts.append(str(v))
        elif f == "protocol_version":
            parts.append(f"v{v}")
    return ", ".join(parts)


def varying_settings(board: pd.DataFrame) -> list[str]:
    """The setting columns that take more than one value on the board (shown in the text)."""
    out = []
    for f in ("backbone", "profile", "clusters", "train_ratio", "protocol_version"):
        if board[f].astype(str).nunique() > 1:
            out.append(f)
    return out


def format_text(board: pd.DataFrame) -> str:
    """The leaderboard as a fixed-width text table, a blank line between blocks."""
    if board.empty:
        return "(no finished runs)"
    varying = varying_settings(board)
    head = ["#", "protocol", "dataset", "target", "method", "SROCC", "PLCC", "over"]
    if varying:
        head.append("setting")
    lines = []
    table = [[str(r["rank"]), r["protocol"], r["dataset"], r["target"], r["method_display"],
              _num(r["srocc"]), _num(r["plcc"]), r["aggregate"]]
             + ([_setting(r, varying)] if varying else []) for _, r in board.iterrows()]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    right = {0, 5, 6}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines.append(fmt(head))
    lines.append("  ".join("-" * w for w in widths))
    prev = None
    for (_, r), cells in zip(board.iterrows(), table):
        block = tuple(r[c] for c in BLOCK)
        if prev is not None and block != prev:
            lines.append("")
        prev = block
        lines.append(fmt(cells))
    return "\n".join(lines)


def _num(v) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


_SCRIPT = """
document.querySelectorAll('table.board th[data-col]').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var col = Number(th.dataset.col), numeric = th.dataset.type === 'num';
    var asc = th.dataset.order !== 'asc';
    table.querySelectorAll('th[data-col]').forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = asc ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
      if (numeric) { x = parseFloat(x); y = parseFloat(y);
        if (isNaN(x)) x = -Infinity; if (isNaN(y)) y = -Infinity;
        return asc ? x - y : y - x; }
      return asc ? x.localeCompare(y) : y.localeCompare(x);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.board { border-collapse: collapse; font-size: 0.9em; }
table.board th, table.board td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; }
table.board th[data-col] { cursor: pointer; user-select: none; background: #f3f3f3; }
table.board th[data-order=asc]::after { content: " \\25B2"; }
table.board th[data-order=desc]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { font-size: 0.85em; }
"""


def _rel(target: str, base: Path) -> str:
    """``target`` relative to folder ``base``, as a URL path (absolute when on another drive)."""
    try:
        return Path(os.path.relpath(Path(target).resolve(), base.resolve())).as_posix()
    except ValueError:
        return Path(target).resolve().as_uri()


def format_html(board: pd.DataFrame, html_path: Path | str, title: str = "Leaderboard",
                source: str = "") -> str:
    """A standalone HTML page: the leaderboard as a table sortable by any column (plain JS,
    no external resources); each row links its run folders and their config.json, by paths
    relative to ``html_path``'s folder."""
    base = Path(html_path).parent
    cols = [("#", "rank", "num"), ("protocol", "protocol", "text"), ("dataset", "dataset", "text"),
            ("target", "target", "text"), ("method", "method_display", "text"),
            ("SROCC", "srocc", "num"), ("PLCC", "plcc", "num"), ("over", "aggregate", "text"),
            ("backbone", "backbone", "text"), ("profile", "profile", "text"),
            ("c", "clusters", "num"), ("t", "train_ratio", "num"), ("runs", "n_runs", "num")]
    esc = lambda x: html.escape(str(x), quote=True)  # noqa: E731
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>"]
    if source:
        out.append(f"<p>{esc(source)}</p>")
    out.append("<p>Click a column header to sort. LODO: average SROCC/PLCC over folds; cross: "
               "mean over seeds; finetune: median over splits. Rank is within a block of one "
               "protocol, training set and target.</p>")
    out.append('<table class="board">')
    out.append("<thead><tr>" + "".join(
        f'<th data-col="{i}" data-type="{kind}">{esc(label)}</th>'
        for i, (label, _, kind) in enumerate(cols)) + "<th>run folders</th></tr></thead>")
    out.append("<tbody>")
    for _, r in board.iterrows():
        cells = []
        for _, field, kind in cols:
            v = r[field]
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if kind == "num":
                value = "" if missing else (f"{v:.4f}" if field in ("srocc", "plcc") else f"{v:g}")
                cells.append(f'<td class="num" data-value="{esc(value or "nan")}">{esc(value)}</td>')
            else:
                value = "" if missing else str(v)
                cells.append(f'<td data-value="{esc(value)}">{esc(value)}</td>')
        links = "".join(
            f'<li><a href="{esc(_rel(d, base))}/">{esc(Path(d).name)}</a> '
            f'(<a href="{esc(_rel(d, base))}/config.json">config.json</a>)</li>'
            for d in r["run_dirs"])
        cells.append(f"<td><details><summary>{len(r['run_dirs'])} run folder(s)</summary>"
                     f"<ul>{links}</ul></details></td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>", f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def to_records(board: pd.DataFrame) -> list[dict]:
    """The board as JSON-ready dicts (NaN as None)."""
    return json.loads(board.to_json(orient="records"))
