"""The label-budget figure of the full-reference track (issue 13): SROCC vs the share of
training pairs that keep their MOS, one line per trained method (mean +- sample std over
splits of the per-split mean over seeds), per training set, backbone and profile.

Points come from the split protocols' runs (``label_fraction`` in the record: fr-fewlabel's
fractions, fr-split's 1.0); a method's label-free runs (fraction 0, fr-labelfree) are a
dotted horizontal line in its colour, and training-free metrics dashed grey lines
(label-source metrics, see reports/fr.py, dotted red and named so in the legend).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.core.display_text import for_matplotlib

from .figures import FigureFile, _new_figure, save_figure, slug
from .fr import SOURCE_MARK, fr_results


def _mean_std_over_splits(rows: pd.DataFrame) -> tuple[float, float, int]:
    """(mean, sample std, n) over splits of the per-split mean SROCC over seeds."""
    per_split = rows.groupby("split")["srocc"].mean().dropna()
    if per_split.empty:
        return math.nan, math.nan, 0
    std = float(per_split.std(ddof=1)) if len(per_split) > 1 else 0.0
    return float(per_split.mean()), std, len(per_split)


def budget_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per label fraction > 0 of one method's split runs: mean, std, n (over splits)."""
    out = []
    for f, g in rows[rows["label_fraction"] > 0].groupby("label_fraction"):
        m, s, n = _mean_std_over_splits(g)
        out.append({"fraction": float(f), "mean": m, "std": s, "n": n})
    return pd.DataFrame(out, columns=["fraction", "mean", "std", "n"])


def label_budget_figures(results: pd.DataFrame | None, out_dir: Path) -> list[FigureFile]:
    """One label-budget figure per (training set, backbone, profile) with at least one
    trained method measured at two or more label fractions."""
    fr = fr_results(results)
    if fr.empty:
        return []
    runs = fr[(fr["split"] >= 0) & fr["label_fraction"].notna()]
    out = []
    for (dataset, backbone, profile), grp in runs.groupby(["dataset", "backbone", "profile"], sort=True):
        trained = grp[~grp["training_free"]]
        lines = {m: budget_points(g) for m, g in trained.groupby("method_display", sort=True)}
        lines = {m: p for m, p in lines.items() if len(p) >= 2}
        if not lines:
            continue
        fig = _new_figure(6.4, 4.2)
        ax = fig.add_subplot()
        colours = {}
        for name, pts in lines.items():
            bar = ax.errorbar(pts["fraction"], pts["mean"], yerr=pts["std"], marker="o", capsize=2,
                              label=for_matplotlib(name))
            colours[name] = bar[0].get_color()
        for name, g in trained[trained["label_fraction"] == 0].groupby("method_display"):
            m, _, n = _mean_std_over_splits(g)
            if n:
                ax.axhline(m, linestyle=":", color=colours.get(name, "black"),
                           label=for_matplotlib(f"{name}, label-free (n={n})"))
        free = grp[grp["training_free"]].drop_duplicates(["method", "split", "seed", "target"])
        for name, g in free.groupby("method_display"):
            m, _, n = _mean_std_over_splits(g)
            source = any(g["metric_name"].iloc[0] in s for s in g["label_source"] if g["metric_name"].iloc[0])
            if n:   # a label-source metric is drawn apart: it is not a competitor
                ax.axhline(m, linestyle=":" if source else "--", linewidth=0.8,
                           color="#c07070" if source else "#888888",
                           label=for_matplotlib(f"{name}{' ' + SOURCE_MARK if source else ''}"))
        ax.set_xscale("log")
        ax.set_xlabel("share of training pairs with MOS (label fraction)")
        ax.set_ylabel("SROCC (mean ± std over splits)")
        ax.set_title(for_matplotlib(f"Label budget: {dataset} ({backbone}, {profile})"), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        caption = (f"SROCC vs label fraction on {dataset} ({backbone}, {profile}), mean ± sample "
                   "std over splits; dotted: label-free runs; dashed: training-free metrics")
        out.append(save_figure(fig, out_dir, slug("label-budget", dataset, backbone, profile), caption))
    return out
