"""The leaderboard: one row per method x protocol x dataset/target x setting, with the
protocol's headline metric, best first; as text and as a sortable HTML page.

Each row's numbers come from the protocol's own :meth:`bench.engine.protocol.Protocol.summarise`
(LODO: mean over folds of each fold's mean over seeds; cross: mean over seeds; fine-tune:
median over splits), with the sample std (ddof=1) over those units and their count n.
Completeness comes from the protocol over the dataset, never from a record
(:mod:`bench.app.expected`): an incomplete set says so ('mean over 2 of 5 folds', or 'of at
least 5' where only other runs show the missing folds) and is not ranked; a set whose
dataset is not at hand here says '(unverified)' and is ranked after the rows whose
completeness was checked (``board.attrs['notes']`` says why). Rows never mix settings: runs whose identities differ in anything but seed, fold
or split are separate rows, labelled by what differs (``setting``). A row whose headline is
undefined (NaN, e.g. constant predictions) is left out of the ranking and listed in
``board.attrs['undefined']``. Rows are grouped in blocks of one protocol, training set and
target; within a block they are ranked by the protocol's headline metric, best first.

A full-reference metric that built its target's pseudo-MOS, or agrees with one at Spearman
>= 0.95 on the same test pairs, is marked (``mark``: '[label source]' or '[~label
source]', decided by :func:`reports.fr.label_source_marks` as in the FR tables), shown after
the ranked rows of its block with no rank (None; '-' in text and HTML), and explained by the
note lines in ``board.attrs['notes']``.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd

from bench.core.display_text import clean
from bench.app.columns import ATTR, setting_columns
from bench.app.results import protocol_class, summarise_rows

from .fr import label_source_marks, mark_notes, strongest
from .links import relative_url

# The key of a row; the setting columns the runs recorded (bench.app.columns) come between
# the two parts, named in words where shown.
KEY_HEAD = ["protocol", "dataset", "target", "method", "method_display", "backbone", "profile"]
KEY_TAIL = ["train_ratio", "protocol_version", "setting"]
KEY = [*KEY_HEAD, *KEY_TAIL]
TRAIN_RATIO_WORDS = "fine-tune training ratio"
BLOCK = ["protocol", "dataset", "target"]
COLUMNS = ["rank", *KEY, "mark", "setting_label", "srocc", "plcc", "srocc_std", "plcc_std", "n",
           "aggregate", "complete", "completeness", "n_folds", "n_splits", "n_seeds", "n_runs",
           "run_dirs"]
_STATE_ORDER = {"complete": 0, "unverified": 1, "incomplete": 2}


def _columns(settings: dict) -> tuple[list[str], list[str]]:
    """(row key, board columns) with the setting columns ``settings`` (key -> words)."""
    key = [*KEY_HEAD, *settings, *KEY_TAIL]
    at = COLUMNS.index(KEY_TAIL[0])
    return key, [*COLUMNS[:at], *settings, *COLUMNS[at:]]


def _row(names: list[str], key: tuple, grp: pd.DataFrame) -> dict:
    """One leaderboard row: the key, and the protocol's summary of the group's target."""
    row = dict(zip(names, key))
    summary = summarise_rows(grp)[row["target"]]
    unit = summary.unit
    row.update(mark=strongest(grp["_mark"]), setting_label=grp["setting_label"].iloc[0],
               srocc=summary["srocc"].value, plcc=summary["plcc"].value,
               srocc_std=summary["srocc"].std, plcc_std=summary["plcc"].std,
               n=summary["srocc"].n, aggregate=summary.label(), complete=summary.complete,
               completeness=summary.state, _missing=summary.missing, _why=summary.unverified,
               n_folds=summary.units if unit == "fold" else 0,
               n_splits=summary.units if unit == "split" else 0, n_seeds=summary.seeds,
               n_runs=grp["run_dir"].nunique(), run_dirs=sorted(grp["run_dir"].astype(str).unique()))
    return row


def build_leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard table (columns :data:`COLUMNS`) of ``bench.app.results.load_results``'s
    one-row-per-(run, target) table; empty when there are no runs. ``rank`` is None for a
    marked (label-source) row; ``attrs['notes']`` explains the marks shown. The setting
    columns the runs recorded (bench.app.columns) are columns of the board too, between
    ``profile`` and ``train_ratio``; ``attrs['setting_columns']`` names them in words."""
    if results is None or results.empty:
        return pd.DataFrame(columns=COLUMNS)
    settings = {k: w for k, w in setting_columns(results).items() if k not in COLUMNS}
    key_names, columns = _columns(settings)
    df = results.copy()
    for col in settings:
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    df["_mark"] = label_source_marks(df, by=BLOCK)
    rows = [_row(key_names, key, grp) for key, grp in df.groupby(key_names, sort=False, dropna=False)]
    board = pd.DataFrame(rows)
    headline = board["protocol"].map(lambda p: protocol_class(p).headline)
    board["_h"] = [r[h] for (_, r), h in zip(board.iterrows(), headline)]
    undefined = board[board["_h"].isna()]
    board = board[board["_h"].notna()].copy()
    board["_p"] = board["protocol"].map(lambda p: protocol_class(p).order)
    board["_m"] = board["mark"] != ""
    board["_s"] = board["completeness"].map(_STATE_ORDER)
    board["_x"] = board["_m"] | (board["completeness"] == "incomplete")    # left unranked
    board = board.sort_values(["_p", "protocol", "dataset", "target", "_x", "_m", "_s", "_h"],
                              ascending=[True] * 7 + [False], kind="stable")
    ranks = board.groupby(BLOCK, sort=False).cumcount() + 1
    board["rank"] = pd.Series([None if x else int(r) for r, x in zip(ranks, board["_x"])],
                              index=board.index, dtype=object)
    notes = completeness_notes(board)
    out = board.reset_index(drop=True)[columns]
    out.attrs[ATTR] = settings
    out.attrs["undefined"] = [f"{r['method_display']} on {r['protocol']}/{r['target']}"
                              for _, r in undefined.iterrows()]
    out.attrs["notes"] = mark_notes(out["mark"], results) + notes
    return out


def completeness_notes(board: pd.DataFrame, shown: int = 3) -> list[str]:
    """Note lines for rows not known to be complete: incomplete ones (not ranked) with
    what they miss, and unverified ones (ranked after the checked rows) with why."""
    def who(r) -> str:
        return f"{r['method_display']} on {r['protocol']}/{r['dataset']}/{r['target']}"

    notes = []
    incomplete = board[board["completeness"] == "incomplete"]
    if len(incomplete):
        rows = "; ".join(f"{who(r)} ({r['aggregate']}"
                         + (f"; missing {', '.join(r['_missing'][:5])}" if len(r["_missing"]) else "")
                         + ")" for _, r in incomplete.head(shown).iterrows())
        more = f"; ... ({len(incomplete)} in all)" if len(incomplete) > shown else ""
        notes.append(f"Not ranked: {len(incomplete)} row(s) cover fewer units than the protocol "
                     f"defines: {rows}{more}.")
    unverified = board[board["completeness"] == "unverified"]
    if len(unverified):
        whys = list(dict.fromkeys(unverified["_why"]))
        notes.append(f"Completeness unverified for {len(unverified)} row(s) ('(unverified)'): "
                     f"{'; '.join(whys[:shown])}. They are ranked after the rows whose "
                     "completeness was checked.")
    return [clean(n, 2000) for n in notes]


def _rank(v) -> str:
    """A rank as printed: '-' for a row left out of the ranking."""
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def _method(row: pd.Series) -> str:
    """The method as printed: its display name and its label-source mark, if any."""
    return clean(f"{row['method_display']} {row.get('mark') or ''}")


def _number(v, fmt: str) -> str | None:
    """``v`` formatted with ``fmt`` when it is a number (or numeric text), else None."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else format(x, fmt)


def _setting(row: pd.Series, varying: list[str], words: dict | None = None) -> str:
    """What sets a row apart: its setting label and the varying columns' values, each
    setting column and the training ratio named in words ('content clusters=2')."""
    words = {**(words or {}), "train_ratio": TRAIN_RATIO_WORDS}
    parts = [row["setting_label"]] if row.get("setting_label") else []
    for f in varying:
        v = row[f]
        missing = v is None or (isinstance(v, float) and math.isnan(v))
        if f in words and not missing:
            parts.append(f"{clean(words[f], 60)}={_number(v, 'g') or clean(v, 40)}")
        elif f in ("backbone", "profile") and v:
            parts.append(str(v))
        elif f == "protocol_version":
            parts.append(f"v{v}")
    return clean(", ".join(parts), 400)


def varying_settings(board: pd.DataFrame) -> list[str]:
    """The setting columns that take more than one value on the board (shown in the text)."""
    out = []
    for f in ("backbone", "profile", *setting_columns(board, COLUMNS), "train_ratio",
              "protocol_version"):
        if board[f].astype(str).nunique() > 1:
            out.append(f)
    return out


def format_text(board: pd.DataFrame) -> str:
    """The leaderboard as a fixed-width text table, a blank line between blocks."""
    if board.empty:
        return "(no finished runs)"
    varying = varying_settings(board)
    labelled = varying or board["setting_label"].astype(bool).any()
    head = ["#", "protocol", "dataset", "target", "method", "SROCC", "± std", "PLCC", "± std",
            "over"]
    if labelled:
        head.append("setting")
    lines = []
    table = [[_rank(r["rank"]), clean(r["protocol"]), clean(r["dataset"]), clean(r["target"]),
              _method(r), _num(r["srocc"]), _num(r["srocc_std"]), _num(r["plcc"]),
              _num(r["plcc_std"]), clean(r["aggregate"])]
             + ([_setting(r, varying, setting_columns(board, COLUMNS))] if labelled else [])
             for _, r in board.iterrows()]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    right = {0, 5, 6, 7, 8}

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
    notes = [clean(n, 2000) for n in board.attrs.get("notes") or []]
    return "\n".join(lines + ([""] + notes if notes else []))


def _num(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


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


def format_html(board: pd.DataFrame, html_path: Path | str, title: str = "Leaderboard",
                source: str = "") -> str:
    """A standalone HTML page: the leaderboard as a table sortable by any column (plain JS,
    no external resources); each row links its run folders and their config.json by
    relative URLs from ``html_path``'s folder (reports.links: './' and percent-encoding)."""
    base = Path(html_path).parent
    cols = [("#", "rank", "num"), ("protocol", "protocol", "text"), ("dataset", "dataset", "text"),
            ("target", "target", "text"), ("method", "method", "text"),
            ("SROCC", "srocc", "num"), ("± std", "srocc_std", "num"), ("PLCC", "plcc", "num"),
            ("± std", "plcc_std", "num"), ("n", "n", "num"), ("over", "aggregate", "text"),
            ("setting", "setting_label", "text"),
            ("backbone", "backbone", "text"), ("profile", "profile", "text"),
            *[(words, key, "num") for key, words in setting_columns(board, COLUMNS).items()],
            (TRAIN_RATIO_WORDS, "train_ratio", "num"), ("runs", "n_runs", "num")]
    esc = lambda x: html.escape(clean(x, 2000), quote=True)  # noqa: E731
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>"]
    if source:
        out.append(f"<p>{esc(source)}</p>")
    out.append("<p>Click a column header to sort. Each value is its protocol's summary "
               "(e.g. mean over folds, median over splits); &plusmn; is the sample standard "
               "deviation (ddof=1) over those units, n their count. Rank is within a block of "
               "one protocol, training set and target; runs of different settings are "
               "separate rows.</p>")
    out.append('<table class="board">')
    out.append("<thead><tr>" + "".join(
        f'<th data-col="{i}" data-type="{kind}">{esc(label)}</th>'
        for i, (label, _, kind) in enumerate(cols)) + "<th>run folders</th></tr></thead>")
    out.append("<tbody>")
    for _, r in board.iterrows():
        cells = []
        for _, field, kind in cols:
            v = _method(r) if field == "method" else r[field]
            if field == "rank" and _rank(v) == "-":
                cells.append('<td class="num" data-value="nan">-</td>')
                continue
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if kind == "num":
                fmt = ".4f" if field.startswith(("srocc", "plcc")) else "g"
                value = "" if missing else _number(v, fmt)
                if value is None:              # text where a number belongs (a plug-in's setting)
                    cells.append(f'<td data-value="nan">{esc(v)}</td>')
                    continue
                cells.append(f'<td class="num" data-value="{esc(value or "nan")}">{esc(value)}</td>')
            else:
                value = "" if missing else str(v)
                cells.append(f'<td data-value="{esc(value)}">{esc(value)}</td>')
        links = "".join(
            f'<li><a href="{esc(relative_url(d, base))}/">{esc(Path(d).name)}</a> '
            f'(<a href="{esc(relative_url(d, base))}/config.json">config.json</a>)</li>'
            for d in r["run_dirs"])
        cells.append(f"<td><details><summary>{len(r['run_dirs'])} run folder(s)</summary>"
                     f"<ul>{links}</ul></details></td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    out += [f'<p class="note">{esc(n)}</p>' for n in board.attrs.get("notes") or []]
    out += [f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def to_records(board: pd.DataFrame) -> list[dict]:
    """The board as JSON-ready dicts (NaN as None)."""
    return json.loads(board.to_json(orient="records", default_handler=str))
