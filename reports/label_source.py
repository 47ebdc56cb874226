"""Label-source marks (issue 13): on a set whose MOS is a pseudo-MOS (the synthetic sets), a
training-free metric that built the labels is marked ``[label source]``, and one whose
predictions agree with such a metric's on the same test pairs at Spearman >=
:data:`CORRELATED` is marked ``[~label source]``. The FR tables (reports/fr.py), the measured
paper tables (reports/measured.py) and the leaderboard read the marks from here; this module
imports no table module, so none of them imports another in a circle."""
from __future__ import annotations

import math

import pandas as pd

CORRELATED = 0.95     # Spearman of predictions with a label-source metric's: marked as one
SOURCE_MARK, NEAR_MARK = "[label source]", "[~label source]"
NOTE_PSEUDO = ("The MOS of {sets} is a pseudo-MOS computed from {sources} (its label "
               "source): synthetic FR numbers check the pipeline, not the science.")
NOTE_MARKS = ("A metric marked [label source] scores its own labels; one marked [~label "
              "source] agrees with such a metric at Spearman >= {rho:g} on the same test "
              "pairs. Marked methods are shown but not ranked or bold.")




def _facts(rec) -> dict:
    return getattr(rec, "facts", None) or {}


def is_fr_row(protocol: str, rec) -> bool:
    """Whether a results row is full-reference: its protocol says ``inputs='pairs'`` or
    its record has the FR fact ``n_labelled``."""
    from bench.app.results import protocol_class

    return getattr(protocol_class(protocol), "inputs", "images") == "pairs" or "n_labelled" in _facts(rec)


def fr_results(results: pd.DataFrame | None) -> pd.DataFrame:
    """The FR rows of ``load_results``' table, with columns ``training_free`` (bool),
    ``metric_name`` (the pyiqa metric or ''), ``test_dataset``, ``label_source`` (tuple of
    the target's label-source metrics), ``label_fraction``, ``train_ratio``,
    ``fold_count``."""
    if results is None or results.empty:
        return pd.DataFrame()
    records = results["record"] if "record" in results.columns else [None] * len(results)
    keep = [is_fr_row(p, r) for p, r in zip(results["protocol"], records)]
    df = results[keep].copy()
    if df.empty:
        return df
    facts = [_facts(r) for r in df["record"]]
    mf = [f.get("method_facts") or {} for f in facts]
    df["training_free"] = [m.get("trained") is False for m in mf]
    df["metric_name"] = [str(m.get("pyiqa_metric") or "") for m in mf]
    df["test_dataset"] = [f.get("target_datasets", {}).get(t, t) for f, t in zip(facts, df["target"])]
    df["label_source"] = [tuple(f.get("label_source", {}).get(t, ())) for f, t in zip(facts, df["target"])]
    df["label_fraction"] = [float(f.get("label_fraction", math.nan)) for f in facts]
    df["fold_count"] = [f.get("fold_count") for f in facts]
    df["entity"] = [f"{d} ({s})" if s else str(d) for d, s in zip(df["method_display"], df["setting_label"])]
    return df


def _summaries(rows: pd.DataFrame) -> dict:
    """Target -> Summary of one protocol's rows of one setting (its own statistic)."""
    from bench.app.results import summarise_rows

    return summarise_rows(rows)


def _donors(fr: pd.DataFrame, host: pd.DataFrame) -> pd.DataFrame:
    """Training-free runs of other split protocols on the host table's test pairs: same
    dataset, train ratio, split count and seeds (see the module docstring)."""
    if host["split"].max() < 0:
        return fr.iloc[0:0]
    p = host["protocol"].iloc[0]
    same = (fr["training_free"] & (fr["protocol"] != p) & (fr["split"] >= 0)
            & fr["dataset"].isin(set(host["dataset"])) & fr["profile"].isin(set(host["profile"]))
            & fr["train_ratio"].isin(set(host["train_ratio"]))
            & fr["fold_count"].isin(set(host["fold_count"])) & fr["seed"].isin(set(host["seed"])))
    donors = fr[same]
    own = set(host.loc[host["training_free"], "method"])
    return donors[~donors["method"].isin(own)]


def _correlated(fr_rows: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """Training-free method -> (label-source metric, mean Spearman of their predictions on
    the same test pairs) for the methods at or above :data:`CORRELATED`."""
    from scipy.stats import spearmanr

    tf = fr_rows[fr_rows["training_free"] & (fr_rows["metric_name"] != "")]
    out: dict[str, tuple[str, float]] = {}
    cache: dict[str, pd.Series] = {}

    def preds(run) -> pd.Series | None:
        path = str(run["predictions"])
        if path not in cache:
            try:
                from bench.core.predictions_file import read_frame

                p = read_frame(path, ("image", "prediction"))   # regular files only, capped
                if "target" in p.columns:
                    p = p[p["target"] == run["target"]]
                cache[path] = p.set_index("image")["prediction"].astype(float)
            except (OSError, KeyError, ValueError):
                cache[path] = None
        return cache[path]

    keys = ["protocol", "fold", "seed", "target"]
    for method, runs in tf.groupby("method"):
        if runs["metric_name"].iloc[0] in set().union(*runs["label_source"]):
            continue
        rhos: dict[str, list[float]] = {}
        for _, run in runs.iterrows():
            mine = preds(run)
            peers = tf[(tf[keys] == run[keys]).all(axis=1) & tf["metric_name"].isin(run["label_source"])]
            for _, peer in peers.iterrows():
                theirs = preds(peer)
                if mine is None or theirs is None:
                    continue
                both = mine.index.intersection(theirs.index)
                if len(both) > 2:
                    rhos.setdefault(peer["metric_name"], []).append(
                        float(spearmanr(mine[both], theirs[both]).statistic))
        best = max(((s, sum(v) / len(v)) for s, v in rhos.items()), key=lambda x: x[1], default=None)
        if best and best[1] >= CORRELATED:
            out[method] = best
    return out


def _mark(rows: pd.DataFrame, correlated: dict) -> str:
    return strongest(row_marks(rows, correlated))


def row_marks(fr_rows: pd.DataFrame, correlated: dict | None = None) -> list[str]:
    """The mark of each row of ``fr_rows`` (rows of :func:`fr_results`): :data:`SOURCE_MARK`
    where the row's metric built its target's labels, :data:`NEAR_MARK` where its method is
    in ``correlated`` (:func:`_correlated`'s answer; computed over ``fr_rows`` when None),
    '' otherwise."""
    if correlated is None:
        correlated = _correlated(fr_rows)
    return [SOURCE_MARK if m and m in src else NEAR_MARK if meth in correlated else ""
            for m, src, meth in zip(fr_rows["metric_name"], fr_rows["label_source"], fr_rows["method"])]


def strongest(marks) -> str:
    """The mark of a group of rows: :data:`SOURCE_MARK` if any row has it, else
    :data:`NEAR_MARK` if any has that, else ''."""
    marks = set(marks)
    return SOURCE_MARK if SOURCE_MARK in marks else NEAR_MARK if NEAR_MARK in marks else ""


def label_source_marks(results: pd.DataFrame | None, by: list[str] | None = None) -> pd.Series:
    """A label-source mark per row of ``load_results``' table (aligned with its index): ''
    for an NR row or an unmarked FR row. Agreement with a label-source metric
    (:data:`NEAR_MARK`) is averaged over the FR rows of each group of columns ``by`` (all
    of them together when None), so a leaderboard block or a paper table decides it over
    its own test pairs. Used by the leaderboard and the measured paper tables, so every
    table marks the same rows as the FR tables do."""
    if results is None or results.empty:
        return pd.Series([], dtype=object)
    out = pd.Series("", index=results.index, dtype=object)
    fr = fr_results(results)
    if fr.empty:
        return out
    groups = fr.groupby(by, sort=False, dropna=False) if by else [(None, fr)]
    for _, rows in groups:
        correlated = _correlated(rows) if "predictions" in rows.columns else {}
        out.loc[rows.index] = row_marks(rows, correlated)
    return out


def mark_notes(marks, results: pd.DataFrame | None = None) -> list[str]:
    """The note lines explaining ``marks`` (the marks shown in one table): the pseudo-MOS
    note when ``results`` (the table's rows of ``load_results``) hold label-source facts,
    and the note saying what a mark means and that marked rows are not ranked or bold."""
    marks = {m for m in marks if m}
    if not marks:
        return []
    notes = []
    fr = fr_results(results) if results is not None else pd.DataFrame()
    if not fr.empty:
        pseudo = fr[[bool(s) for s in fr["label_source"]]]
        if len(pseudo):
            sources = sorted(set().union(*pseudo["label_source"]))
            notes.append(NOTE_PSEUDO.format(sets=", ".join(sorted(set(pseudo["test_dataset"]))),
                                            sources=", ".join(sources).upper()))
    notes.append(NOTE_MARKS.format(rho=CORRELATED))
    return notes
