"""Uncertainty: `python -m bench compare A B` (paired tests over runs whose configs differ
only in the method) and the bootstrap intervals of the HTML report (reports/bootstrap.py)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from bench.cli import main as cli_main
from bench.app.results import load_results
from bench.reports.bootstrap import (Sample, attach_intervals, bootstrap_interval, pooled_interval,
                               read_sample, replicates)
from bench.reports.compare import pair_runs, paired_tests, run_table
from bench.reports.grid import build_grid
from bench.reports.render import render_table
from bench.reports.tables import SPECS

from fake_runs import make_run, predictions

FOLDS = ("GB", "LB", "MB", "CD", "CS", "CQ")


@pytest.fixture()
def runs(tmp_path):
    root = tmp_path / "runs"
    for fold in FOLDS:
        make_run(root, "lodo", "cis", fold=fold, noise=0.2)
        make_run(root, "lodo", "erm", fold=fold, noise=0.6)
    make_run(root, "lodo", "erm", fold="JPEG", noise=0.6)                   # no cis partner
    make_run(root, "lodo", "erm", fold="GB", noise=0.6, train__lr=0.5)      # other setting
    return root


# --- compare -------------------------------------------------------------------------------

def test_pairs_are_runs_differing_only_in_method(runs):
    pairs = pair_runs(run_table(runs), "cis", "erm")
    assert sorted(pairs["fold"]) == sorted(FOLDS)                  # JPEG and lr=0.5 unpaired
    res = paired_tests(pairs)
    assert res.n == 6 and res.mean_diff == pytest.approx((pairs["a"] - pairs["b"]).mean())
    assert res.t_p == pytest.approx(stats.ttest_rel(pairs["a"], pairs["b"]).pvalue)
    assert res.w_p == pytest.approx(stats.wilcoxon(pairs["a"], pairs["b"]).pvalue)
    assert res.wins + res.losses + res.ties == 6


def test_compare_command_prints_pairs_and_p_values(runs, capsys):
    assert cli_main(["compare", "cis", "erm", "--runs", str(runs), "--protocol", "lodo"]) == 0
    out = capsys.readouterr().out
    assert "6 pair(s)" in out and "paired t-test" in out and "Wilcoxon signed-rank" in out
    assert len(re.findall(r"^  syn-kadid", out, flags=re.M)) == 6
    assert re.search(r"mean difference \(cis - erm\): \+", out)     # less noise wins
    assert cli_main(["compare", "CIS", "Baseline", "--runs", str(runs), "--metric", "plcc"]) == 0
    assert "on PLCC" in capsys.readouterr().out                      # display names accepted


def test_unreadable_config_is_named_not_silently_dropped(runs, capsys):
    broken = next(p for p in runs.glob("lodo-cis-*-GB-*"))
    (broken / "config.json").write_text("{not json")
    assert cli_main(["compare", "cis", "erm", "--runs", str(runs)]) == 0
    captured = capsys.readouterr()
    assert "1 run folder skipped" in captured.err and broken.name in captured.err
    assert "config.json is unreadable" in captured.err
    assert "5 pair(s)" in captured.out


def test_no_pairs_names_what_differs(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root, "lodo", "cis", fold="GB")
    make_run(root, "lodo", "erm", fold="GB", train__lr=0.5)
    assert cli_main(["compare", "cis", "erm", "--runs", str(root)]) == 1
    err = capsys.readouterr().err
    assert "no pairs" in err and "train.lr" in err and err.count("\n") == 1
    assert cli_main(["compare", "cis", "nosuch", "--runs", str(root)]) == 1
    assert "methods found: cis, erm" in capsys.readouterr().err
    assert cli_main(["compare", "cis", "erm", "--runs", str(root), "--protocol", "cross"]) == 1
    assert "protocols found: lodo" in capsys.readouterr().err


def test_match_images_pairs_on_the_test_set(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "lodo", "cis", fold="GB")
    make_run(root, "lodo", "erm", fold="GB", train__lr=0.5)                 # configs differ
    assert pair_runs(run_table(root), "cis", "erm").empty
    assert len(pair_runs(run_table(root, match="images"), "cis", "erm")) == 1


# --- bootstrap -----------------------------------------------------------------------------

def _sample(n=40, noise=0.3, seed=0) -> Sample:
    names, mos, pred = predictions(n, noise, seed)
    return Sample(pred, mos, tuple(names))


def test_interval_is_seeded_and_brackets_the_estimate():
    s = _sample()
    ci = bootstrap_interval(s, "srocc", 500)
    assert ci == bootstrap_interval(s, "srocc", 500)                 # deterministic
    est = stats.spearmanr(s.pred, s.mos)[0]
    assert ci.lo < est < ci.hi and ci.hi - ci.lo < 0.5
    reps = replicates(s, "plcc", 200)
    assert reps.shape == (200,) and np.all(np.abs(reps) <= 1)
    # replicate 0 is the metric on resample 0, recomputed by scipy
    from bench.reports.bootstrap import resample_indices

    idx = resample_indices(s.images, 200)[0]
    assert reps[0] == pytest.approx(stats.pearsonr(s.pred[idx], s.mos[idx])[0])
    big = bootstrap_interval(_sample(n=400), "srocc", 500)
    assert big.hi - big.lo < ci.hi - ci.lo                           # more images, narrower


def test_pooled_interval_of_a_mean_over_runs():
    a, b = _sample(seed=1), _sample(seed=2)
    single = pooled_interval([[a]], "srocc", 300)
    assert single == bootstrap_interval(a, "srocc", 300)
    mean = pooled_interval([[a, b]], "srocc", 300)
    target = np.mean([stats.spearmanr(s.pred, s.mos)[0] for s in (a, b)])
    assert mean.lo < target < mean.hi
    avg = pooled_interval([[a], [b]], "srocc", 300)                   # e.g. a LODO AVERAGE
    assert avg == mean
    assert pooled_interval([[a], []], "srocc", 300) is None          # a fold without data


def test_html_cells_show_intervals_and_latex_is_unchanged(runs):
    res = load_results(runs)
    grid = build_grid(SPECS[3], res)
    latex_before = render_table(grid, "latex")
    md_before = render_table(grid, "markdown")
    done, skipped = attach_intervals([grid], 200)
    # folds x methods, JPEG, 2 AVERAGEs, and the lr=0.5 run as its own entity (GB + AVERAGE)
    assert done == len(FOLDS) * 2 + 2 + 1 + 2 and skipped == 0
    html = render_table(grid, "html")
    assert len(re.findall(r'<small class="ci"', html)) == done
    assert render_table(grid, "latex") == latex_before and render_table(grid, "markdown") == md_before
    cell = next(c for r in grid.rows for c in r.cells if c.source == "measured" and c.ci)
    assert cell.ci.lo <= cell.value <= cell.ci.hi or math.isclose(cell.ci.lo, cell.value)


def test_report_command_puts_intervals_in_html_only(runs, tmp_path):
    out = tmp_path / "rep"
    assert cli_main(["report", "--runs", str(runs), "--out", str(out), "--tables", "3",
                     "--no-figures", "--bootstrap", "100"]) == 0
    assert 'class="ci"' in (out / "table03.html").read_text()
    assert "bootstrap" in (out / "index.html").read_text()
    interval = re.compile(r"\[-?\d\.\d+, -?\d\.\d+\]")
    assert interval.search((out / "table03.html").read_text())
    assert not interval.search((out / "table03.tex").read_text())
    assert not interval.search((out / "table03.md").read_text())


def test_unreadable_predictions_leave_cells_without_interval(runs, capsys):
    results = load_results(runs)
    for f in runs.rglob("predictions.csv"):
        f.write_text("not,a\npredictions,file\n")     # unusable once the runs were read
    grid = build_grid(SPECS[3], results)
    done, skipped = attach_intervals([grid], 50)
    assert done == 0 and skipped > 0
    assert read_sample(runs / "nope.csv") is None


def test_compare_shows_each_methods_protocol_summary(runs, capsys):
    assert cli_main(["compare", "cis", "erm", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("  A over its paired runs"))
    pairs = pair_runs(run_table(runs), "cis", "erm")
    # erm's runs of the same protocol and data have a 7th fold (JPEG): cis's 6 are not all
    assert "syn-kadid: mean over 6 of at least 7 folds" in line and "(n=6)" in line
    value = float(line.split("folds ")[1].split()[0])
    assert value == pytest.approx(pairs["a"].mean(), abs=1e-4)


def test_seed_level_view_averages_each_seed_then_tests_over_seeds(tmp_path, capsys):
    root = tmp_path / "runs"
    for seed in (0, 1, 2):
        for fold in FOLDS[:3]:
            make_run(root, "lodo", "cis", fold=fold, seed=seed, noise=0.2)
            make_run(root, "lodo", "erm", fold=fold, seed=seed, noise=0.6)
    make_run(root, "lodo", "cis", fold="GB", seed=3, noise=0.2)      # seed 3: one fold only
    make_run(root, "lodo", "erm", fold="GB", seed=3, noise=0.6)
    from bench.reports.compare import seed_means

    pairs = pair_runs(run_table(root), "cis", "erm")
    g = seed_means(pairs)
    assert list(g["seed"]) == [0, 1, 2]                              # incomplete seed 3 left out
    for r in g.itertuples():
        mine = pairs[pairs["seed"] == r.seed]
        assert r.pairs == 3 and r.a == pytest.approx(mine["a"].mean())
        assert r.b == pytest.approx(mine["b"].mean())
    assert cli_main(["compare", "cis", "erm", "--runs", str(root)]) == 0
    out = capsys.readouterr().out
    t = stats.ttest_rel(g["a"], g["b"])
    assert f"over 3 seeds: cis {g['a'].mean():.4f} ± {g['a'].std(ddof=1):.4f}" in out
    assert f"paired t-test t = {t.statistic:.3f}" in out and "seeds 3 left out" in out
