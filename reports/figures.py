"""Matplotlib figures of measured runs (Agg, no display needed), each saved as PNG and PDF:

* per-distortion-type bars for LODO runs: measured SROCC (mean +- std over seeds) beside
  the published value of the same method in Table 3 or 12;
* predicted score vs MOS scatter, one per run (from the run's ``predictions.csv``);
* Figure-3-style curves: PLCC/SROCC vs the cluster count c, and vs the fine-tune training
  ratio t, wherever runs at two or more values exist.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.app.columns import setting_columns
from bench.core.display_text import for_matplotlib

from .io import write_atomic_with
from .measured import METRIC_LABELS, normalise_results
from .paper import load_paper_numbers
from .tables import specs_for

FIGURE_FORMATS = ("png", "pdf")


@dataclass
class FigureFile:
    """One saved figure: paths relative to the report folder, and a caption."""

    caption: str
    png: str
    pdf: str = ""


@dataclass
class FigureGroup:
    """Figures of one kind, for the index page."""

    title: str
    items: list[FigureFile] = field(default_factory=list)


@dataclass(frozen=True)
class CurveSpec:
    """A sweep to plot: metric vs ``x``, one line per method, the ``fixed`` columns held
    constant (one figure per combination of their values)."""

    x: str
    xlabel: str
    fixed: tuple[str, ...]
    title: str
    protocols: tuple[str, ...] = ("finetune", "cross")


TRAIN_RATIO = CurveSpec("train_ratio", "fine-tune training ratio t", (),
                        "Metric vs training ratio t (Figure 3c/d style)")


def curves(results: pd.DataFrame) -> list[CurveSpec]:
    """The sweeps to plot: metric vs each setting column the runs recorded (named in words,
    bench.app.columns; Figure 3a/b style for the content clusters), the training ratio and
    the other setting columns held; then metric vs the training ratio, the setting columns
    held."""
    settings = setting_columns(results)
    out = [CurveSpec(key, words, ("train_ratio", *[k for k in settings if k != key]),
                     f"Metric vs {words} (Figure 3a/b style)") for key, words in settings.items()]
    return out + [dataclasses.replace(TRAIN_RATIO, fixed=tuple(settings))]


GROUP_FIELDS = ("dataset", "backbone", "profile")


def slug(*parts: object) -> str:
    """A file-name-safe stem from parts ('cis+l', 'syn-kadid' -> 'cis-plus-l_syn-kadid')."""
    text = "_".join(str(p) for p in parts if str(p) != "")
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text.replace("+", "-plus-"))


def _new_figure(width: float = 6.4, height: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, out_dir: Path, stem: str, caption: str) -> FigureFile:
    """Save ``fig`` as ``out_dir/stem.png`` and ``.pdf`` atomically; paths relative to ``out_dir``'s parent."""
    paths = {}
    for fmt in FIGURE_FORMATS:
        path = out_dir / f"{stem}.{fmt}"
        write_atomic_with(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=120))
        paths[fmt] = path.relative_to(out_dir.parent).as_posix()
    return FigureFile(caption, paths["png"], paths.get("pdf", ""))


def _mean_std(values: pd.Series) -> tuple[float, float]:
    v = values.astype(float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def lodo_bars(results: pd.DataFrame, out_dir: Path, paper: pd.DataFrame | None = None) -> list[FigureFile]:
    """One bar chart per LODO (method, dataset, backbone, profile): measured SROCC per fold
    beside the published SROCC of the same method on the mapped paper table."""
    paper = load_paper_numbers() if paper is None else paper
    from bench.app.results import protocol_class

    per_fold = results["protocol"].map(lambda p: protocol_class(p).layout == "folds")
    runs = results[per_fold.astype(bool)]
    out = []
    keys = ["protocol", "method", *GROUP_FIELDS, "setting"]
    for (protocol, method, *rest), grp in runs.groupby(keys, sort=True):
        rest = rest[:-1] + ([grp["setting_label"].iloc[0]] if grp["setting_label"].iloc[0] else [])
        dataset = rest[0]
        specs = specs_for(protocol, dataset)
        published: dict[str, float] = {}
        ref = ""
        if specs:
            cells = paper[(paper["table"] == specs[0].id) & (paper["method"] == method)]
            published = {r: v for r, v in zip(cells["row"], cells["value"]) if r != "AVERAGE"}
            ref = f"Table {specs[0].id}" if published else ""
        order = [r for r in published if r in set(grp["fold"])]
        order += sorted(set(grp["fold"]) - set(order))
        stats = [_mean_std(grp.loc[grp["fold"] == f, "srocc"]) for f in order]
        fig = _new_figure(max(6.4, 0.35 * len(order) + 2))
        ax = fig.add_subplot()
        xs = range(len(order))
        width = 0.4 if published else 0.8
        ax.bar([x - width / 2 if published else x for x in xs], [m for m, _ in stats], width,
               yerr=[s for _, s in stats], label="measured", color="#3a7bd5", capsize=2)
        if published:
            ax.bar([x + width / 2 for x in xs], [published.get(f, math.nan) for f in order],
                   width, label=f"published ({ref})", color="#bbbbbb")
        display = grp["method_display"].iloc[0]
        ax.set_xticks(list(xs), [for_matplotlib(f) for f in order], rotation=60, ha="right",
                      fontsize=8)
        ax.set_ylabel("SROCC")
        ax.set_title(for_matplotlib(f"{display}: leave-one-distortion-out on {dataset}"))
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(top=1.15)
        ax.legend(fontsize=8, loc="upper right", ncol=2)
        caption = (f"{display} LODO on {dataset} ({rest[1]}, {rest[2]}): measured SROCC per "
                   f"held-out type" + (f" vs {ref}" if ref else ""))
        out.append(save_figure(fig, out_dir, slug(protocol, method, *rest), caption))
    return out


def _predictions_path(run: pd.Series) -> Path:
    pred = run.get("predictions")
    if isinstance(pred, str) and pred:
        return Path(pred)
    return Path(str(run["run_dir"])) / "predictions.csv"


def scatter_plots(results: pd.DataFrame, out_dir: Path) -> tuple[list[FigureFile], list[str]]:
    """A predicted-vs-MOS scatter per run (the run's rows of its target where
    ``predictions.csv`` has a ``target`` column); returns the figures and the prediction
    files that could not be read."""
    out, missing = [], []
    for _, run in results.iterrows():
        path = _predictions_path(run)
        try:
            from bench.core.predictions_file import read_frame

            pred = read_frame(path)     # regular files only, size-capped, no repeated column
            if "target" in pred.columns and run["target"] and (pred["target"] == run["target"]).any():
                pred = pred[pred["target"] == run["target"]]     # one file may hold several targets
            x, y = pred["mos"].astype(float), pred["prediction"].astype(float)
        except (OSError, KeyError, ValueError):
            missing.append(str(path))
            continue
        if x.empty:
            missing.append(str(path))
            continue
        fig = _new_figure(4.2, 4.0)
        ax = fig.add_subplot()
        ax.scatter(x, y, s=8, alpha=0.6, color="#3a7bd5")
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], color="#999999", linewidth=0.8, linestyle="--")
        ax.set_xlabel("MOS (normalised)")
        ax.set_ylabel("prediction")
        where = f"{run['dataset']} -> {run['target']}" + (f" [{run['fold']}]" if run["fold"] else "")
        ax.set_title(for_matplotlib(f"{run['method_display']} {run['protocol']}: {where}"), fontsize=9)
        ax.text(0.02, 0.98, f"SROCC {run['srocc']:.3f}\nPLCC {run['plcc']:.3f}\nn={len(pred)}",
                transform=ax.transAxes, va="top", fontsize=8)
        stem = slug("scatter", Path(str(run["run_dir"])).name or run.name, run["target"], run["fold"])
        caption = f"{where}, {run['method_display']}, seed {run['seed']}" + \
            (f", split {run['split']}" if int(run["split"]) >= 0 else "")
        out.append(save_figure(fig, out_dir, stem, caption))
    return out, missing


def curve_plots(results: pd.DataFrame, out_dir: Path, spec: CurveSpec) -> list[FigureFile]:
    """Figure-3-style curves for one sweep: per (protocol, dataset, target, backbone,
    profile, fixed value), PLCC and SROCC vs ``spec.x``, one line per method with >= 2 points."""
    runs = results[results["protocol"].isin(spec.protocols)].copy()
    for col in (spec.x, *spec.fixed):     # a plug-in's setting may hold text: not a curve
        runs[col] = pd.to_numeric(runs[col], errors="coerce")
    runs = runs.dropna(subset=[spec.x])
    out = []
    keys = ["protocol", "target", *GROUP_FIELDS, *spec.fixed]
    for key, grp in runs.groupby(keys, sort=True, dropna=False):
        lines = {m: g for m, g in grp.groupby("method_display", sort=True) if g[spec.x].nunique() >= 2}
        if not lines:
            continue
        fig = _new_figure(8.0, 3.4)
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("plcc", "srocc")):
            for name, g in lines.items():
                stats = g.groupby(spec.x)[metric].agg(["mean", "std"]).fillna(0.0)
                ax.errorbar(stats.index.astype(float), stats["mean"], yerr=stats["std"],
                            marker="o", capsize=2, label=for_matplotlib(name))
            ax.set_xticks(sorted({float(v) for g in lines.values() for v in g[spec.x]}))
            ax.set_xlabel(spec.xlabel)
            ax.set_ylabel(METRIC_LABELS[metric])
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        protocol, target, dataset, backbone, profile, *fixed = key
        fixed_txt = "".join(f", {name}={value:g}" for name, value in zip(spec.fixed, fixed)
                            if not pd.isna(value))
        fig.suptitle(for_matplotlib(f"{protocol} on {target} (trained on {dataset}, {backbone}"
                                    f"{fixed_txt})"), fontsize=10)
        caption = f"{METRIC_LABELS['plcc']}/{METRIC_LABELS['srocc']} vs {spec.xlabel}: {protocol}, " \
                  f"{dataset} -> {target}, {backbone}, {profile}{fixed_txt}"
        out.append(save_figure(fig, out_dir, slug("curve", spec.x, *key[:5], *fixed), caption))
    return out


def make_figures(results: pd.DataFrame, out_dir: Path, paper: pd.DataFrame | None = None,
                 scatter: bool = True) -> tuple[list[FigureGroup], list[str]]:
    """All figures of ``results`` under ``out_dir``; returns the groups for the index page
    and the prediction files that could not be read."""
    import matplotlib

    matplotlib.use("Agg")
    df = normalise_results(results)
    groups = [FigureGroup("Leave-one-distortion-out: measured vs published", lodo_bars(df, out_dir, paper))]
    groups += [FigureGroup(c.title, curve_plots(df, out_dir, c)) for c in curves(df)]
    missing: list[str] = []
    if scatter:
        items, missing = scatter_plots(df, out_dir)
        groups.append(FigureGroup("Predicted score vs MOS, per run", items))
    return [g for g in groups if g.items], missing
