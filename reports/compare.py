"""Paired comparison of two methods on the same folds, splits and seeds.

Two runs pair when their resolved configs (``config.json``) are equal once the method (and
what never changes a result: device, code version) is left out -- same protocol, options,
data, fold, seed, split, backbone, schedule. Each pair contributes one value per test target
(the metric of each method on it). On the differences (A - B) the paired t-test
(``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
two-sided, zero differences dropped as in its default) are computed, per protocol.

``match='images'`` pairs on the test set instead of the config: same protocol, fold,
target and the same test images (from ``predictions.csv``), whatever trained the models --
for submissions scored with ``python -m bench score``, whose configs have no training part.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.core.display_text import clean
from bench.core.errors import BenchError

IGNORED_KEYS = ("method", "method_settings", "device", "code_version", "submission")
METRICS = ("srocc", "plcc", "krcc", "plcc_logistic")
MATCH_MODES = ("config", "images")


def _flatten(tree, prefix: str = "") -> dict:
    out = {}
    for k, v in (tree or {}).items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, path + "."))
        else:
            out[path] = v
    return out


def _config_key(cfg: dict) -> str:
    flat = {k: v for k, v in _flatten(cfg).items() if k.split(".")[0] not in IGNORED_KEYS}
    return json.dumps(flat, sort_keys=True, default=str)


def _images_key(run_dir: Path, target: str) -> str:
    from bench.core.predictions_file import read_frame

    try:
        df = read_frame(run_dir / "predictions.csv", ("target", "image"))   # regular files only
    except (OSError, ValueError):
        return ""
    names = sorted(df.loc[df["target"].astype(str) == target, "image"].astype(str))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16] if names else ""


def run_table(runs_dir: Path | str, metric: str = "srocc", match: str = "config") -> pd.DataFrame:
    """One row per (valid finished run, target): method, display name, protocol, dataset,
    fold, target, seed, split, the metric's value, the run folder, its flattened config and
    the pairing key. Folders whose record or config.json fails validation are named and
    skipped with a count (never dropped silently)."""
    from bench.app.results import load_records

    if metric not in METRICS:
        raise BenchError(f"unknown metric '{metric}'; valid: {', '.join(METRICS)}")
    if match not in MATCH_MODES:
        raise BenchError(f"unknown --match '{match}'; valid: {', '.join(MATCH_MODES)}")
    rows = []
    items, _ = load_records(Path(runs_dir))
    for folder, rec, cfg, _, expected, _ in items:
        for target, t in rec.targets.items():
            if match == "config":
                key = _config_key(cfg)
            else:
                img = _images_key(folder.path, target)
                key = json.dumps([rec.protocol, rec.protocol_version, rec.fold, img]) if img else ""
            rows.append({
                "method": rec.method, "method_display": rec.method_display,
                "protocol": rec.protocol, "dataset": rec.dataset, "fold": rec.fold,
                "target": target, "seed": rec.seed, "split": rec.facts.get("split", -1),
                "value": t.get(metric, math.nan), "run_dir": str(folder.path),
                "config": _flatten(cfg), "key": key, "record": rec,
                "expected": expected.get(target),
            })
    return pd.DataFrame(rows, columns=["method", "method_display", "protocol", "dataset", "fold",
                                       "target", "seed", "split", "value", "run_dir", "config", "key",
                                       "record", "expected"])


def method_summary(table: pd.DataFrame, run_dirs, protocol: str, metric: str) -> str:
    """The protocol's own summary (bench.engine.protocol.Protocol.summarise) of the paired runs of
    one method, per target: 'livec: median of 10 splits 0.8123 ± 0.0100 (n=10)'."""
    from bench.app.results import summarise_rows

    runs = table[table["run_dir"].isin(set(run_dirs)) & (table["protocol"] == protocol)]
    summary = summarise_rows(runs)
    return "; ".join(f"{t}: {s.label()} {s[metric].text()}" for t, s in summary.items())


def resolve_method(table: pd.DataFrame, name: str) -> str:
    """The method name of the runs that ``name`` designates (registry name, display name
    case-insensitively, or a submission's name); BenchError listing the methods found
    otherwise."""
    if (table["method"] == name).any():
        return name
    for hit in (table.loc[table["method_display"].str.lower() == name.lower(), "method"].unique(),
                [m for m in table["method"].unique() if m == f"submission:{name}"]):
        if len(hit) == 1:
            return str(hit[0])
    found = ", ".join(sorted(table["method"].unique())) or "none"
    raise BenchError(f"no finished runs of method '{name}' (methods found: {found})")


def pair_runs(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """The pairs of ``a`` and ``b`` runs with the same key and target: columns protocol,
    dataset, fold, target, seed, split, a, b, diff (= a - b), run_a, run_b."""
    cols = ["protocol", "dataset", "fold", "target", "seed", "split"]
    ta = table[(table["method"] == a) & (table["key"] != "")]
    tb = table[(table["method"] == b) & (table["key"] != "")]
    # several runs of one method with one key cannot happen with config keys (one folder per
    # config); with image keys they can (seeds): average them per key.
    ga = ta.groupby(["key", "target"], sort=False).agg(
        **{c: (c, "first") for c in cols if c != "target"}, a=("value", "mean"),
        run_a=("run_dir", "first")).reset_index()
    gb = tb.groupby(["key", "target"], sort=False).agg(
        b=("value", "mean"), run_b=("run_dir", "first")).reset_index()
    pairs = ga.merge(gb, on=["key", "target"], how="inner")
    pairs["diff"] = pairs["a"] - pairs["b"]
    pairs = pairs.sort_values(["protocol", "dataset", "target", "fold", "seed", "split"], kind="stable")
    return pairs[[*cols, "a", "b", "diff", "run_a", "run_b"]].reset_index(drop=True)


@dataclass
class TestResult:
    """Summary of the paired differences and the two tests' statistics and p-values."""

    n: int
    mean_diff: float
    std_diff: float
    wins: int
    losses: int
    ties: int
    t_stat: float
    t_p: float
    w_stat: float
    w_p: float


def paired_tests(pairs: pd.DataFrame) -> TestResult:
    """Paired t-test and Wilcoxon signed-rank test of ``pairs['a']`` vs ``pairs['b']``
    (NaN statistics where a test is undefined: fewer than 2 pairs, or all differences 0)."""
    import warnings

    import numpy as np
    from scipy import stats

    ok = pairs.dropna(subset=["a", "b"])
    d = (ok["a"] - ok["b"]).to_numpy(dtype=float)
    n = len(d)
    t_stat = t_p = w_stat = w_p = math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if n >= 2 and np.ptp(d) > 0:      # undefined for constant differences (no variance)
            r = stats.ttest_rel(ok["a"], ok["b"])
            t_stat, t_p = float(r.statistic), float(r.pvalue)
        if n >= 1 and np.any(d != 0):
            try:
                r = stats.wilcoxon(ok["a"], ok["b"])
                w_stat, w_p = float(r.statistic), float(r.pvalue)
            except ValueError:
                pass
    return TestResult(n, float(d.mean()) if n else math.nan,
                      float(d.std(ddof=1)) if n > 1 else math.nan,
                      int((d > 0).sum()), int((d < 0).sum()), int((d == 0).sum()),
                      t_stat, t_p, w_stat, w_p)


def _differing_keys(ca: dict, cb: dict) -> list[str]:
    keys = sorted(set(ca) | set(cb))
    return [k for k in keys if k.split(".")[0] not in IGNORED_KEYS and ca.get(k) != cb.get(k)]


def explain_no_pairs(table: pd.DataFrame, a: str, b: str, match: str = "config") -> str:
    """Why ``a`` and ``b`` have no pair: which protocols/folds one has and the other lacks,
    or which config keys differ between the closest runs."""
    ta, tb = table[table["method"] == a], table[table["method"] == b]
    common = sorted(set(ta["protocol"]) & set(tb["protocol"]))
    if not common:
        return (f"no pairs: {a} has runs of protocol(s) {', '.join(sorted(set(ta['protocol'])))} "
                f"and {b} of {', '.join(sorted(set(tb['protocol'])))}; run both under one protocol")
    p = common[0]
    ta, tb = ta[ta["protocol"] == p], tb[tb["protocol"] == p]
    folds_a, folds_b = set(ta["fold"].astype(str)), set(tb["fold"].astype(str))
    if not folds_a & folds_b:
        return (f"no pairs under protocol {p}: {a} has folds {', '.join(sorted(folds_a)[:5])} "
                f"and {b} has {', '.join(sorted(folds_b)[:5])}")
    if match == "images":
        return (f"no pairs under protocol {p}: no fold of {a} and {b} was tested on the same "
                "images (or their predictions.csv files are missing)")
    fold = sorted(folds_a & folds_b)[0]
    ra = ta[ta["fold"].astype(str) == fold].iloc[0]
    rb = tb[tb["fold"].astype(str) == fold].iloc[0]
    diff = _differing_keys(ra["config"], rb["config"])
    shown = "; ".join(clean(f"{k}: {ra['config'].get(k)!r} vs {rb['config'].get(k)!r}", 200)
                      for k in diff[:5])
    more = f" (and {len(diff) - 5} more)" if len(diff) > 5 else ""
    return (f"no pairs: runs pair only when their configs differ in the method alone, but on "
            f"{p} fold {fold} the configs of {a} and {b} also differ in {shown}{more}; rerun "
            f"one of them with the other's settings (or use --match images to pair on the "
            f"test images only)")


def _p(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.3g}"


def format_report(pairs: pd.DataFrame, a: str, b: str, metric: str,
                  table: pd.DataFrame | None = None) -> str:
    """Per protocol: each method's summary over its paired runs (the protocol's own, given
    the ``run_table``; ± sample std, n), the pairs table, the mean difference (± sample std
    of the differences) and the tests' p-values."""
    lines = []
    for protocol, grp in pairs.groupby("protocol", sort=False):
        res = paired_tests(grp)
        lines.append(f"{protocol}: A = {a} vs B = {b} on {metric.upper()}, {res.n} pair(s)")
        if table is not None:
            for side, col in (("A", "run_a"), ("B", "run_b")):
                text = method_summary(table, grp[col], protocol, metric)
                lines.append(f"  {side} over its paired runs: {text}")
        head = f"  {'dataset':<14}{'fold':<16}{'target':<12}{'seed':>5}{'split':>6}" \
               f"{'A':>11}{'B':>11}{'A - B':>10}"
        lines.append(head)
        for _, r in grp.iterrows():
            split = "" if int(r["split"]) < 0 else str(int(r["split"]))
            lines.append(f"  {str(r['dataset'])[:13]:<14}{str(r['fold'])[:15]:<16}"
                         f"{str(r['target'])[:11]:<12}{int(r['seed']):>5}{split:>6}"
                         f"{r['a']:>11.4f}{r['b']:>11.4f}{r['diff']:>+10.4f}")
        std = "" if math.isnan(res.std_diff) else f", std {res.std_diff:.4f}"
        lines.append(f"  mean difference ({a} - {b}): {res.mean_diff:+.4f}{std}; {a} higher in "
                     f"{res.wins}, lower in {res.losses}, tied in {res.ties}")
        lines.append(f"  paired t-test:        t = {res.t_stat:.3f}, p = {_p(res.t_p)}"
                     if not math.isnan(res.t_stat) else
                     "  paired t-test:        n/a (needs 2+ pairs with varying differences)")
        lines.append(f"  Wilcoxon signed-rank: W = {res.w_stat:.1f}, p = {_p(res.w_p)}"
                     if not math.isnan(res.w_stat) else
                     "  Wilcoxon signed-rank: n/a (needs a non-zero difference)")
        if res.n < 6:
            lines.append("  (few pairs: the tests have little power)")
        lines += seed_lines(grp, a, b)
        lines.append("")
    return "\n".join(lines).rstrip()


def seed_means(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the mean of A and of B over that seed's pairs (e.g. the 25-fold LODO
    average of each method): columns seed, pairs, a, b, diff; only seeds with as many
    pairs as the fullest seed (a seed with missing folds would compare other folds)."""
    g = pairs.groupby("seed", sort=True).agg(pairs=("a", "size"), a=("a", "mean"),
                                              b=("b", "mean")).reset_index()
    g = g[g["pairs"] == g["pairs"].max()].reset_index(drop=True)
    g["diff"] = g["a"] - g["b"]
    return g


def seed_lines(pairs: pd.DataFrame, a: str, b: str) -> list[str]:
    """The seed-level view (when the pairs span 2+ seeds): each seed's mean of A and B over
    its pairs, their mean +- sample std over seeds, and the paired tests over seeds (the
    unit the seeds make independent; the per-pair tests above treat folds as units)."""
    if pairs["seed"].nunique() < 2:
        return []
    g = seed_means(pairs)
    dropped = sorted(set(pairs["seed"]) - set(g["seed"]))
    lines = [f"  per seed (mean over each seed's {int(g['pairs'].iloc[0])} pair(s)):",
             f"  {'seed':>6}{'A':>11}{'B':>11}{'A - B':>10}"]
    lines += [f"  {int(r.seed):>6}{r.a:>11.4f}{r.b:>11.4f}{r.diff:>+10.4f}" for r in g.itertuples()]
    if dropped:
        lines.append(f"  (seeds {', '.join(map(str, dropped))} left out: fewer pairs than the others)")
    if len(g) >= 2:
        res = paired_tests(g)
        lines.append(f"  over {len(g)} seeds: {a} {g['a'].mean():.4f} ± {g['a'].std(ddof=1):.4f}, "
                     f"{b} {g['b'].mean():.4f} ± {g['b'].std(ddof=1):.4f} (mean ± sample std); "
                     f"{a} higher in {res.wins} of {len(g)}")
        t = f"t = {res.t_stat:.3f}, p = {_p(res.t_p)}" if not math.isnan(res.t_stat) else "n/a"
        w = f"W = {res.w_stat:.1f}, p = {_p(res.w_p)}" if not math.isnan(res.w_stat) else "n/a"
        lines.append(f"  over seeds: paired t-test {t}; Wilcoxon signed-rank {w}")
    return lines
