"""Model selection over a hyperparameter search (issue 23; DomainBed's ``collect_results``):
for each search (runs that differ only in their searched values and draw index) and each
fold, the draw with the best selection score is chosen, and tables report its test
metrics (over seeds). Selection methods:

* ``train-val``: the SROCC a run records on its held-out training images (``train.holdout``
  > 0, fact ``holdout``); the run itself is the one reported;
* ``type-val``: the SROCC of the same draw, fold and seed run in the protocol's validation
  view (LODO ``--validation true``: a training type held out and scored); the test run is
  the one with the view off;
* ``oracle``: the test SROCC itself: an upper bound, labelled so, never a default.

A draw is scored by its mean selection SROCC over seeds; a draw with a collapsed run
(test or selection) is never chosen and is counted; a fold without any selectable draw is
left out of the table and named. Nothing here names a method or a method setting: the
searched keys come from the settings' declarations (:mod:`bench.app.hparams`).
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Callable, Optional

from ..core.errors import UsageError

SELECTIONS = ("train-val", "type-val", "oracle")
LABELS = {"train-val": "train-val (held-out training images)",
          "type-val": "type-val (a held-out training type)",
          "oracle": "oracle (test fold; UPPER BOUND, not a result)"}
VIEW_KEY = "protocol.validation"    # the protocol option that turns on the validation view


def parse_selection(text: Optional[str]) -> list[str]:
    """'type-val,oracle' -> ['type-val', 'oracle']; [] for None; UsageError otherwise."""
    if text is None:
        return []
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    bad = [x for x in items if x not in SELECTIONS]
    if bad or not items:
        raise UsageError(f"--selection {text} is not allowed: --selection must be one or more "
                         f"of {', '.join(SELECTIONS)}")
    return list(dict.fromkeys(items))


def _family(run_flat: dict, method: str) -> tuple[str, dict]:
    """(hash, flat setting) of a run's search: its setting less the searched keys and the
    validation view."""
    from .hparams import searched_keys

    # a method's settings are --set method.<k> but live under method_settings in a config
    drop = {f"method_settings.{k[7:]}" if k.startswith("method.") else k
            for k in searched_keys(method)} | {VIEW_KEY}
    flat = {k: v for k, v in run_flat.items() if k not in drop}
    blob = json.dumps(flat, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12], flat


def _collapsed(rec) -> bool:
    return bool(rec.facts.get("collapsed")) or bool((rec.facts.get("holdout") or {}).get("collapsed"))


def _score(selection: str, row, partner) -> float:
    """The selection SROCC of one test row (NaN when it has none; -inf when collapsed)."""
    rec = row["record"]
    if selection == "oracle":
        value = row["srocc"]
    elif selection == "train-val":
        value = (rec.facts.get("holdout") or {}).get("srocc", math.nan)
    else:
        if partner is None:
            return math.nan
        value = partner.targets and next(iter(partner.targets.values()))["srocc"]
        if _collapsed(partner):
            return -math.inf
    if _collapsed(rec):
        return -math.inf
    return float(value) if value is not None else math.nan


def select(results, selection: str, log: Callable[[str], None] = print):
    """The rows of ``results`` (:func:`bench.app.results.load_results`' table) that
    ``selection`` chooses: per (search, fold, target) the draw with the best mean score
    over seeds; their ``setting`` becomes the search's, ``setting_label`` says how it was
    chosen. ``attrs['selection']``: per search, draws, collapsed runs, unselectable folds."""
    import pandas as pd

    if selection not in SELECTIONS:
        raise UsageError(f"unknown selection {selection!r}; one of {', '.join(SELECTIONS)}")
    rows = results.copy()
    flats = [_flat(cfg) for cfg in rows["config"]]
    fam = [_family(f, m)[0] for f, m in zip(flats, rows["method"])]
    rows["family"] = fam
    rows["draw"] = [f.get("hparams.draw") for f in flats]
    rows["view"] = [bool(f.get(VIEW_KEY)) for f in flats]
    partners = {(r.family, r.draw, r.fold, r.seed): r.record for r in rows.itertuples() if r.view}
    test = rows[~rows["view"]].copy()
    test["score"] = [_score(selection, r, partners.get((r["family"], r["draw"], r["fold"], r["seed"])))
                     for _, r in test.iterrows()]
    chosen, stats = [], {}
    for (family, fold, target), grp in test.groupby(["family", "fold", "target"], dropna=False):
        st = stats.setdefault(family, {"draws": set(), "collapsed": 0, "failed_draws": set(),
                                       "unselectable": []})
        st["draws"] |= set(grp["draw"].dropna().astype(int))
        failed = grp[grp["score"] == -math.inf]
        st["collapsed"] += len(failed)
        st["failed_draws"] |= set(failed["draw"].fillna(-1).astype(int))
        by_draw = grp.groupby("draw", dropna=False)["score"].agg(
            lambda s: -math.inf if (s == -math.inf).any() else s.mean())
        by_draw = by_draw[by_draw.notna() & (by_draw > -math.inf)]
        if by_draw.empty:
            st["unselectable"].append(str(fold))
            continue
        best = by_draw.idxmax()
        pick = grp[(grp["draw"] == best) | (grp["draw"].isna() & pd.isna(best))]
        chosen.append(pick)
    out = pd.concat(chosen) if chosen else test.iloc[0:0]
    for family, st in stats.items():
        n, c, d = len(st["draws"]) or 1, st["collapsed"], len(st["failed_draws"])
        label = (f"{LABELS[selection]}, best of {n} draw{'s' * (n > 1)}, {d} failed "
                 f"(collapsed) draw{'s' * (d != 1)}, {c} collapsed run(s)")
        out.loc[out["family"] == family, "setting_label"] = label
        if st["unselectable"]:
            log(f"bench: {selection}: no selectable draw (no score, or every draw collapsed) "
                f"on fold(s) {', '.join(sorted(set(st['unselectable']))[:8])}; left out")
    out["setting"] = out["family"] + ":" + selection
    out.attrs.update(results.attrs)
    out.attrs["selection"] = {f: {"draws": len(s["draws"]) or 1, "collapsed": s["collapsed"],
                                  "failed_draws": len(s["failed_draws"]),
                                  "unselectable": sorted(set(s["unselectable"]))}
                              for f, s in stats.items()}
    return out.drop(columns=["family", "draw", "view", "score"])


def _flat(cfg: dict) -> dict:
    from .results import setting_of

    return setting_of(cfg)
