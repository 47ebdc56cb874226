"""Report figures (issue 22): one grouped bar chart per fold table (not one per method),
one scatter per method and setting (its median run, not one per run) with the fitted
logistic drawn, and error bars only where two or more seeds exist."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

import bench.reports.bar_figures as bar_figures
import bench.reports.figures as figures
from bench.reports.measured import normalise_results

from test_reports import KADID, synthetic_results


@pytest.fixture()
def saved(monkeypatch):
    """The matplotlib figures the report saves, by file stem (nothing is written)."""
    got = {}

    def keep(fig, out_dir, stem, caption):
        got[stem] = (fig, caption)
        return figures.FigureFile(caption, f"{stem}.png")

    monkeypatch.setattr(figures, "save_figure", keep)
    monkeypatch.setattr(bar_figures, "save_figure", keep)
    return got


def _with_predictions(res: pd.DataFrame, tmp_path) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    for i, path in enumerate(res["predictions"]):
        mos = rng.uniform(0, 1, 30)
        p = tmp_path / f"pred{i}.csv"
        pd.DataFrame({"image": [f"i{k}" for k in range(30)], "mos": mos,
                      "prediction": 1 / (1 + np.exp(-6 * (mos - 0.5))) + rng.normal(0, .05, 30)}
                     ).to_csv(p, index=False)
        res.loc[i, "predictions"] = str(p)
    return res


def _errorbars(fig) -> int:
    return sum(isinstance(c, ErrorbarContainer) for ax in fig.axes for c in ax.containers)


def test_one_grouped_bar_chart_per_table_with_errors_only_from_two_seeds(tmp_path, saved):
    two = normalise_results(synthetic_results(tmp_path, lodo_folds=KADID[:4], seeds=(0, 1)))
    bar_figures.table_bars(two, tmp_path)
    assert list(saved) == ["table03_bars"]            # CIS and CIP together, one chart
    fig, caption = saved.pop("table03_bars")
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 4                  # CIS, CIS published, CIP, CIP published
    assert all(len(b) == 4 for b in bars)  # the 4 measured folds
    assert _errorbars(fig) == 2            # measured bars only: two seeds each
    assert "2 seeds" in caption
    one = normalise_results(synthetic_results(tmp_path, lodo_folds=KADID[:4], seeds=(0,)))
    bar_figures.table_bars(one, tmp_path)
    assert _errorbars(saved["table03_bars"][0]) == 0


def test_scatter_is_one_per_method_the_median_run_with_the_logistic(tmp_path, saved):
    res = synthetic_results(tmp_path, lodo_folds=KADID[:5], seeds=(0,))
    res = normalise_results(_with_predictions(res[res["protocol"] == "lodo"].reset_index(
        drop=True), tmp_path))
    items, missing = figures.scatter_plots(res, tmp_path)
    assert not missing and len(items) == 2            # CIS and CIP, not 10 runs
    cis = res[res["method"] == "cis"].sort_values("srocc")
    median_fold = cis["fold"].iloc[(len(cis) - 1) // 2]
    (fig, caption), = [v for k, v in saved.items() if "_cis_" in k]
    assert "median of 5 runs by SROCC" in caption
    assert f"[{median_fold}]" in fig.axes[0].get_title()
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert any(lb.startswith("fitted logistic (sheikh5)") for lb in labels)
