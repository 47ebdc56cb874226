"""A scored submission as results: its run records (kind 'submission'), the protocol's
summary of them, the printed table and JSON, and the run folders that let it join the
leaderboard, written through the one record writer (:class:`bench.core.record.RunFolder`).

Metrics undefined on a test set (NaN: constant predictions or constant MOS) are reported,
and such a scoring is never written as run folders.
"""
from __future__ import annotations

import hashlib
import math
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..core.version import __version__
from ..core.errors import BenchError
from .scoring import BACKBONE, METRIC_KEYS, Score, _listing

if TYPE_CHECKING:
    from ..core.record import RunRecord


def records(cfg: dict, scores: list[Score]) -> list[tuple[str, "RunRecord", list[dict]]]:
    """(fold, RunRecord of kind 'submission', prediction rows) per fold of ``scores``."""
    from ..core.record import RunRecord
    from ..core.registry import PROTOCOLS

    p = cfg["protocol"]
    name = cfg["method"].split(":", 1)[1]
    by_fold: dict[str, list[Score]] = {}
    for sc in scores:
        by_fold.setdefault(sc.test.fold, []).append(sc)
    out = []
    for fold, group in by_fold.items():
        trained = ("+".join(p["train"]) if "train" in p else p.get("dataset") or group[0].test.dataset)
        rec = RunRecord(
            protocol=p["name"], protocol_version=PROTOCOLS.get(p["name"]).version, fold=fold,
            method=cfg["method"], method_display=f"{name} (submission)", dataset=trained,
            seed=cfg["seed"], profile=cfg["profile"], backbone=BACKBONE,
            targets={sc.test.target: dict(sc.metrics) for sc in group},
            facts={"extra_train": [], **group[0].test.info,
                   **_test_facts(group), "backbone_init": "external",
                   "versions": {"bench": __version__, "python": platform.python_version()}},
            kind="submission")
        out.append((fold, rec, [r for sc in group for r in sc.rows]))
    return out


def _test_facts(group: list[Score]) -> dict:
    """What the runner records of a fold's test sets for an FR method (target -> dataset,
    and target -> label-source metrics where the MOS is a pseudo-MOS), so the FR tables line
    a submission up with the runs on the same test pairs (e.g. target 'syn-kadid@0.05' of
    fr-fewlabel is dataset syn-kadid) and say when its labels are a pseudo-MOS. A
    submission is never itself marked a label source: it names no metric."""
    sources = {sc.test.target: list(sc.test.label_source) for sc in group if sc.test.label_source}
    return {"target_datasets": {sc.test.target: sc.test.dataset for sc in group},
            **({"label_source": sources} if sources else {})}


def summarise(cfg: dict, scores: list[Score]) -> dict:
    """Target -> the protocol's Summary of the scored folds (bench.core.summary.Summary)."""
    from ..core.registry import PROTOCOLS

    recs = [rec for _, rec, _ in records(cfg, scores)]
    return PROTOCOLS.get(cfg["protocol"]["name"]).summarise(recs)


def undefined(scores: list[Score]) -> list[str]:
    """'fold/target' of each test set whose SROCC or PLCC is undefined (NaN: constant
    predictions, or constant MOS)."""
    return [f"{s.test.fold}/{s.test.target}" for s in scores
            if any(math.isnan(s.metrics.get(k, math.nan)) for k in ("srocc", "plcc"))]


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def result_json(cfg: dict, scores: list[Score], source: str) -> dict:
    """The scored result as a JSON-ready dict: per (fold, target) metrics; ``summary``, per
    target, the protocol's statistic, sample std and n of each metric; ``average``, those
    statistics averaged over targets, with the test images scored and the folds."""
    from ..core.registry import PROTOCOLS

    p = cfg["protocol"]
    summary = summarise(cfg, scores)
    per_target = {t: {"aggregate": s.label(), "images": s.images,
                      **{m: _clean({"value": st.value, "std": st.std, "n": st.n})
                         for m, st in s.metrics.items()}} for t, s in summary.items()}
    average = {m: _mean([s[m].value for s in summary.values()]) for m in METRIC_KEYS}
    average.update(n=int(sum(sc.metrics.get("n", 0) for sc in scores)),
                   folds=len({sc.test.fold for sc in scores}),
                   statistic=next(iter(summary.values())).statistic)
    return {"predictions": str(source), "protocol": p["name"],
            "protocol_version": PROTOCOLS.get(p["name"]).version, "protocol_options": p,
            "seed": cfg["seed"], "method": cfg["method"],
            "folds": [_clean({"fold": sc.test.fold, "target": sc.test.target,
                              "dataset": sc.test.dataset, **sc.test.info, **sc.metrics})
                      for sc in scores],
            "summary": per_target, "average": _clean(average),
            "undefined": undefined(scores)}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _num(v: float) -> str:
    return f"{'nan':>8}" if math.isnan(v) else f"{v:>8.4f}"


def format_scores(cfg: dict, scores: list[Score]) -> str:
    """One line per (fold, target) with SROCC, PLCC, KRCC and n, then per target the
    protocol's summary row (e.g. AVERAGE over folds, MEDIAN over splits) and its sample
    std (ddof=1) with n; NaN shown as 'nan' (undefined)."""
    lines = [f"{'fold':<16}{'target':<14}{'SROCC':>8}{'PLCC':>8}{'KRCC':>8}{'n':>7}"]
    for sc in scores:
        m = sc.metrics
        lines.append(f"{sc.test.fold[:15]:<16}{sc.test.target[:13]:<14}{_num(m['srocc'])}"
                     f"{_num(m['plcc'])}{_num(m['krcc'])}{m['n']:>7}")
    if len(scores) > 1:
        for target, s in summarise(cfg, scores).items():
            name = "AVERAGE" if s.statistic == "mean" else s.statistic.upper()
            lines.append(f"{name:<16}{target[:13]:<14}{_num(s['srocc'].value)}"
                         f"{_num(s['plcc'].value)}{_num(s['krcc'].value)}{s.images:>7}")
            if s.units > 1:
                lines.append(f"{'STD (sample, n=' + str(s['srocc'].n) + ')':<30}{_num(s['srocc'].std)}"
                             f"{_num(s['plcc'].std)}{_num(s['krcc'].std)}")
    return "\n".join(lines)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_config(cfg: dict, fold: str, source: Path) -> dict:
    """The config.json of a submission's run folder: data, seed, protocol, method, fold and
    the predictions file with its hash (so other predictions make another folder)."""
    return {"profile": cfg["profile"], "seed": cfg["seed"], "method": cfg["method"],
            "protocol": cfg["protocol"], "fold": fold, "code_version": __version__,
            "data": {k: cfg["data"][k] for k in ("root", "paths", "synthetic_seed")},
            "submission": {"file": str(Path(source).resolve()), "sha256": _sha256(source)}}


def write_runs(cfg: dict, scores: list[Score], source: Path | str, out_dir: Path | str,
               log: Callable[[str], None] = print) -> list[Path]:
    """Write each fold's score as a done run folder under ``out_dir`` through the one
    record writer (config.json, predictions.csv, metrics.json of kind 'submission', then
    done); a folder already finished (same predictions, same settings) is kept. BenchError
    when a metric is undefined (NaN): such a scoring never joins the leaderboard. Returns
    the folders."""
    from ..core.config import config_hash
    from ..core.record import RunFolder, folder_name

    bad = undefined(scores)
    if bad:
        raise BenchError(f"not written under {out_dir}: SROCC/PLCC are undefined (constant "
                         f"predictions?) on {_listing(bad)}")
    folders = []
    for fold, rec, rows in records(cfg, scores):
        fcfg = run_config(cfg, fold, Path(source))
        run = RunFolder(Path(out_dir) / folder_name(fcfg, config_hash(fcfg)))
        folders.append(run.path)
        if run.is_finished():
            log(f"{fold}: already scored ({run.path})")
            continue
        with run.claim() as mine:
            if not mine or run.is_finished():
                continue
            run.begin(fcfg)
            rec.facts["submission"] = fcfg["submission"]
            run.finish(rec, rows)
    return folders
