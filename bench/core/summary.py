"""One aggregation of run records, used by every consumer through its protocol's
:meth:`bench.engine.protocol.Protocol.summarise` (``run``'s table, ``leaderboard``, ``report``,
``check``, ``compare``, ``score``).

The records given are those of one *setting*: runs whose identities differ only in seed,
fold or split (callers group them first, see :func:`bench.app.results.group_by_setting`).
Per test target:

1. the records are grouped into *units*: one per value of the protocol's key columns
   (LODO: the fold; fine-tune: the fold, i.e. target and split), or one per seed when the
   protocol has no key column (cross-dataset);
2. each unit's metric is the mean over its seeds;
3. the summary is the protocol's statistic (mean, or median for fine-tune splits) over the
   units, with the spread as the **sample standard deviation (ddof=1) over the units**
   (NaN for a single unit) and ``n`` the number of units. NaN metrics (undefined, e.g. for
   constant predictions) are left out, and ``n`` counts the finite units only; a unit
   whose run *collapsed* (constant or non-finite predictions, the record's ``collapse``)
   is a failure, named in :attr:`Summary.collapsed` and in the label ('mean of 25 folds,
   2 collapsed'), never silently averaged away.

This is the one convention for spread in the harness: sample std, ddof=1, with n shown.

Completeness is never taken from a record. A reader states what the protocol defines
(:func:`with_expectation`, from :mod:`bench.app.expected`): then a summary is *complete*
(every unit the protocol defines has runs), *incomplete* (some are missing; or, when the
dataset is not at hand, fewer than other runs of the same protocol and data cover) or
*unverified* (the dataset is not at hand: nothing says how many units there are). Only the
engine's own tables (`run`, `score`), which have just listed the folds themselves, read
the ``fold_count`` their fresh records carry (:func:`engine_fold_count`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

METRICS = ("srocc", "plcc", "krcc", "plcc_logistic")


@dataclass(frozen=True)
class Stat:
    """One summarised metric: ``value`` (the statistic over units), ``std`` (sample std over
    units, ddof=1; NaN for fewer than 2) and ``n`` (finite units aggregated)."""

    value: float
    std: float
    n: int

    def text(self, digits: int = 4) -> str:
        """'0.8123 ± 0.0210 (n=5)', or 'nan (undefined)' when no unit is finite."""
        if self.n == 0 or math.isnan(self.value):
            return "nan (undefined)"
        spread = "" if math.isnan(self.std) else f" ± {self.std:.{digits}f}"
        return f"{self.value:.{digits}f}{spread} (n={self.n})"


@dataclass(frozen=True)
class Summary:
    """A setting's results on one test target.

    metrics: metric name -> :class:`Stat`; statistic: 'mean' or 'median'; unit: what was
    aggregated ('fold', 'split' or 'seed'); units: how many units have records;
    expected: how many the protocol defines (None when unknown or not applicable; a lower
    bound when ``unverified``); seeds: distinct seeds; images: test images summed over
    units (one seed's count per unit); folders: the run folders (as strings) that fed it;
    unit_keys: the units with records (tuples of the key columns); missing: units the
    protocol defines without records (names); unverified: why completeness could not be
    checked ('' when it was, or when the unit is a seed); collapsed: units (names) with a
    run whose predictions collapsed on this target (a failed fit).
    """

    metrics: dict
    statistic: str
    unit: str
    units: int
    expected: int | None = None
    seeds: int = 1
    images: int = 0
    folders: tuple = field(default_factory=tuple)
    unit_keys: tuple = ()
    missing: tuple = ()
    unverified: str = ""
    collapsed: tuple = ()

    @property
    def state(self) -> str:
        """'complete', 'incomplete' (units known to be missing) or 'unverified'."""
        if self.missing or (self.expected is not None and self.units < self.expected):
            return "incomplete"
        return "unverified" if self.unverified else "complete"

    @property
    def complete(self) -> bool:
        """True only when every unit the protocol defines is known to have records."""
        return self.state == "complete"

    def __getitem__(self, metric: str) -> Stat:
        return self.metrics[metric]

    def label(self) -> str:
        """How the value was aggregated: 'mean of 5 folds', 'mean over 2 of 5 folds'
        (incomplete), 'median of 10 splits', '1 run'; ', k collapsed' appended when runs
        of k units collapsed (failed fits)."""
        failed = f", {len(self.collapsed)} collapsed" if self.collapsed else ""
        return self._label() + failed

    def _label(self) -> str:
        noun = self.unit if self.units == 1 else f"{self.unit}s"
        if self.state == "incomplete":
            bound = "at least " if self.unverified else ""
            return f"{self.statistic} over {self.units} of {bound}{self.expected} {self.unit}s"
        if self.units == 1 and self.unit == "seed":
            return "1 run"
        return f"{self.statistic} of {self.units} {noun}" + (" (unverified)" if self.unverified else "")


def _stat(values: list[float], statistic: str) -> Stat:
    finite = [v for v in values if not math.isnan(v)]
    n = len(finite)
    if not n:
        return Stat(math.nan, math.nan, 0)
    if statistic == "median":
        s = sorted(finite)
        mid = n // 2
        value = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2
    else:
        value = sum(finite) / n
    if n < 2:
        return Stat(float(value), math.nan, n)
    mean = sum(finite) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    return Stat(float(value), float(std), n)


def _mean(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def engine_fold_count(records: Sequence) -> int | None:
    """The number of folds the engine listed for records it has just made (their fact
    ``fold_count``), for `run`'s and `score`'s own tables; None otherwise. Readers never
    rely on it: :func:`with_expectation` replaces it with what the protocol defines."""
    counts = {r.facts.get("fold_count") for r in records if isinstance(r.facts.get("fold_count"), int)}
    return max(counts) if counts else None


def unit_name(key: tuple) -> str:
    """A unit key as printed: 'GB', or 'syn-wild/3' for several key columns."""
    return "/".join(str(k) for k in key)


def with_expectation(summary: Summary, expected) -> Summary:
    """``summary`` with its completeness from ``expected`` (a bench.app.expected.Expected: the
    units the protocol defines, or why they are unknown and the units other runs of the
    same protocol and data cover), replacing anything the records said."""
    have = set(summary.unit_keys)
    if expected is None:
        return replace(summary, expected=None, missing=(), unverified="completeness not checked")
    if expected.units is not None:
        missing = tuple(sorted(unit_name(k) for k in expected.units - have))
        return replace(summary, expected=len(expected.units), missing=missing, unverified="")
    if not expected.why:                       # a protocol whose unit is a seed
        return replace(summary, expected=None, missing=(), unverified="")
    seen = set(expected.seen) | have
    missing = tuple(sorted(unit_name(k) for k in seen - have))
    return replace(summary, expected=len(seen) if missing else None, missing=missing,
                   unverified=expected.why)


def summarise_records(records: Sequence, key_columns: Sequence[str], statistic: str = "mean",
                      unit: str = "fold", folders: Sequence = ()) -> dict[str, Summary]:
    """Target -> :class:`Summary` of ``records`` (RunRecord-like: ``.fold``, ``.seed``,
    ``.targets``, ``.facts``), one setting's runs; see the module docstring for the rule.
    ``key_columns`` name record attributes or facts ('fold', 'split'); empty: units are seeds.
    ``folders``: the run folder of each record, in the same order (optional)."""
    folders = list(folders) or [None] * len(records)
    expected = engine_fold_count(records)
    out: dict[str, Summary] = {}
    targets = list(dict.fromkeys(t for r in records for t in r.targets))
    for target in targets:
        units: dict[tuple, list] = {}
        seeds, used, collapsed = set(), [], set()
        for rec, folder in zip(records, folders):
            if target not in rec.targets:
                continue
            key = unit_of(rec, key_columns) if key_columns else (rec.seed,)
            units.setdefault(key, []).append(rec.targets[target])
            if target in (rec.facts.get("collapse") or {}):
                collapsed.add(unit_name(key))
            seeds.add(rec.seed)
            if folder is not None:
                used.append(str(folder))
        per_unit = {m: [_mean(float(t[m]) for t in ts) for ts in units.values()] for m in METRICS}
        images = sum(int(ts[0]["n"]) for ts in units.values())
        name = unit if key_columns else "seed"
        out[target] = Summary({m: _stat(v, statistic) for m, v in per_unit.items()}, statistic,
                              name, len(units), expected if key_columns else None, len(seeds),
                              images, tuple(sorted(used)),
                              tuple(units) if key_columns else (),
                              collapsed=tuple(sorted(collapsed)))
    return out


def unit_of(rec, key_columns: Sequence[str]) -> tuple:
    """The unit a record belongs to: its values of the protocol's key columns."""
    return tuple(_column(rec, c) for c in key_columns)


def _column(rec, name: str):
    if name == "fold":
        return rec.fold
    if name == "seed":
        return rec.seed
    return rec.facts.get(name)
