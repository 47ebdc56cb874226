"""Matplotlib figures of measured runs (Agg, no display needed), each saved as PNG and PDF:

* one grouped bar chart per paper table whose rows are folds (:mod:`reports.bar_figures`):
  the measured methods per held-out type beside their published values;
* MOS vs predicted score, one scatter per method and setting: its median run by SROCC
  (so a 500-run sweep gives one per setting, not 500), with the fitted logistic of the
  logistic PLCC drawn (the y = x line means nothing for uncalibrated scores);
* Figure-3-style curves: PLCC/SROCC vs the cluster count c, and vs the fine-tune training
  ratio t, wherever runs at two or more values exist.

Error bars (sample std over seeds) are drawn only where two or more seeds exist.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.app.columns import setting_columns
from bench.core.display_text import for_matplotlib

from .bar_figures import table_bars
from .figure_io import FIGURE_FORMATS, FigureFile, _new_figure, save_figure, slug  # noqa: F401
from .measured import METRIC_LABELS, normalise_results


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


def _predictions_path(run: pd.Series) -> Path:
    pred = run.get("predictions")
    if isinstance(pred, str) and pred:
        return Path(pred)
    return Path(str(run["run_dir"])) / "predictions.csv"


SCATTER_GROUP = ("protocol", "method", "target", *GROUP_FIELDS, "setting")


def median_runs(results: pd.DataFrame) -> list[tuple[pd.Series, int]]:
    """Per method and setting (protocol, method, target, dataset, backbone, profile,
    setting): its median run by SROCC among the runs whose predictions file exists (the
    lower median; NaN SROCC last; any run when no file exists) and that run count."""
    out = []
    for _, grp in results.groupby(list(SCATTER_GROUP), sort=True, dropna=False):
        found = grp[[_predictions_path(r).is_file() for _, r in grp.iterrows()]]
        grp = found if not found.empty else grp
        ranked = grp.assign(_s=grp["srocc"].astype(float)).sort_values("_s", kind="stable",
                                                                       na_position="last")
        finite = int(ranked["_s"].notna().sum())
        out.append((ranked.iloc[max(finite - 1, 0) // 2], len(grp)))
    return out


def _read_predictions(run: pd.Series):
    """(MOS, predictions) of a run's target from its predictions file; None if unreadable."""
    from bench.core.predictions_file import read_frame

    try:
        pred = read_frame(_predictions_path(run))  # regular files, size-capped
        if "target" in pred.columns and run["target"] and (pred["target"] == run["target"]).any():
            pred = pred[pred["target"] == run["target"]]     # one file may hold several targets
        x, y = pred["mos"].astype(float), pred["prediction"].astype(float)
    except (OSError, KeyError, ValueError):
        return None
    return None if x.empty else (x, y)


def _draw_logistic(ax, pred: pd.Series, mos: pd.Series) -> str:
    """Draw the logistic fitted from predictions to MOS (the one logistic PLCC uses);
    return its legend text, or '' when the fit is impossible."""
    import numpy as np

    from bench.core.metrics import fit_logistic, logistic4, logistic5

    fit = fit_logistic(pred.to_numpy(), mos.to_numpy())
    if not fit.ok:
        return ""
    p = np.linspace(float(pred.min()), float(pred.max()), 200)
    z = (p - float(pred.mean())) / float(pred.std(ddof=0))
    curve = (logistic4 if fit.logistic == "vqeg4" else logistic5)(z, *fit.params)
    ax.plot(p, curve, color="#c23b3b", linewidth=1.2,
            label=f"fitted logistic ({fit.logistic}), PLCC {fit.value:.3f}")
    return fit.logistic


def scatter_plots(results: pd.DataFrame, out_dir: Path) -> tuple[list[FigureFile], list[str]]:
    """MOS vs prediction, one scatter per method and setting (its median run, see
    :func:`median_runs`), with the fitted logistic; returns the figures and the prediction
    files that could not be read."""
    out, missing = [], []
    for run, n_runs in median_runs(results):
        data = _read_predictions(run)
        if data is None:
            missing.append(str(_predictions_path(run)))
            continue
        mos, pred = data
        fig = _new_figure(4.2, 4.0)
        ax = fig.add_subplot()
        ax.scatter(pred, mos, s=8, alpha=0.6, color="#3a7bd5")
        if _draw_logistic(ax, pred, mos):
            ax.legend(fontsize=7, loc="lower right")
        ax.set_xlabel("prediction")
        ax.set_ylabel("MOS (normalised)")
        where = f"{run['dataset']} -> {run['target']}" + (f" [{run['fold']}]" if run["fold"] else "")
        ax.set_title(for_matplotlib(f"{run['method_display']} {run['protocol']}: {where}"), fontsize=9)
        ax.text(0.02, 0.98, f"SROCC {run['srocc']:.3f}\nPLCC {run['plcc']:.3f}\nn={len(pred)}",
                transform=ax.transAxes, va="top", fontsize=8)
        stem = slug("scatter", run["protocol"], run["method"], run["dataset"], run["target"],
                    run["backbone"], run["profile"], run["setting"])
        median = f"median of {n_runs} runs by SROCC: " if n_runs > 1 else ""
        caption = f"{where}, {run['method_display']} ({median}seed {run['seed']}" + \
            (f", split {run['split']}" if int(run["split"]) >= 0 else "") + ")"
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
                stats = g.groupby(spec.x)[metric].agg(["mean", "std", "count"])
                xs = stats.index.astype(float)
                line = ax.plot(xs, stats["mean"], marker="o", label=for_matplotlib(name))[0]
                seeds = stats[stats["count"] >= 2]          # error bars need two or more seeds
                if not seeds.empty:
                    ax.errorbar(seeds.index.astype(float), seeds["mean"], yerr=seeds["std"],
                                fmt="none", capsize=2, ecolor=line.get_color())
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
    groups = [FigureGroup("Per table: measured vs published, per held-out type",
                          table_bars(df, out_dir, paper))]
    groups += [FigureGroup(c.title, curve_plots(df, out_dir, c)) for c in curves(df)]
    missing: list[str] = []
    if scatter:
        items, missing = scatter_plots(df, out_dir)
        groups.append(FigureGroup("MOS vs prediction, the median run of each method and "
                                  "setting, with the fitted logistic", items))
    return [g for g in groups if g.items], missing
