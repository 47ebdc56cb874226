"""What a protocol defines for the runs the readers are given: its folds over the dataset,
listed by the protocol itself from the datasets *at hand* on this machine, never taken
from a record (a record saying ``fold_count: 1`` says nothing a reader may believe).

For a run (its ``config.json``: protocol options, data settings, seed) :class:`DataAtHand`
opens the protocol's datasets through the data layer, without generating or downloading
anything: the synthetic suite when it is already in the cache, a release where the
config's ``data.root`` / ``data.paths`` find it. It then asks the protocol for its folds,
so a reader knows

* every unit (fold, split) a setting must cover on each target (:meth:`DataAtHand.expected`);
* each fold's test images and their scores, which a record's predictions must match
  (:meth:`DataAtHand.test_set`).

When a dataset is not at hand the answer says so (``Expected.why``): completeness is then
*unverified*, never assumed. Everything is opened once per reader (one instance).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

WITHIN_SETTING_OPTIONS = ("split",)   # protocol options that vary between one setting's runs


@dataclass(frozen=True)
class Expected:
    """The units (tuples of the protocol's key columns, e.g. ``('GB',)``) a setting must
    cover on one target. ``units`` None and ``why`` '' : not applicable (a protocol whose
    unit is a seed); ``units`` None and ``why`` set: unknown here, and why. ``seen``: for an
    unknown one, the units that runs of the same protocol, options and data cover (a lower
    bound on what the protocol defines; filled in by the reader that sees them all)."""

    units: Optional[frozenset] = None
    why: str = ""
    seen: frozenset = field(default_factory=frozenset)


def _why_not(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def universe_key(cfg: dict) -> str:
    """Runs with this key share one protocol's folds: protocol options (less those that vary
    inside a setting) and data settings."""
    opts = {k: v for k, v in (cfg.get("protocol") or {}).items() if k not in WITHIN_SETTING_OPTIONS}
    data = cfg.get("data") or {}
    return json.dumps([opts, {k: data.get(k) for k in ("root", "paths", "synthetic_seed")}],
                      sort_keys=True, default=str)


def _synthetic_root(spec, seed: int):
    """(root, '') of a generated synthetic set, or (None, why) when it is not generated."""
    from ..data.synthetic.domains import domain_set_dir, is_domain_set, read_domain_manifest
    from ..data.synthetic.suite import read_manifest, suite_dir

    if is_domain_set(spec.name):
        if read_domain_manifest(spec.name, seed) is None:
            return None, (f"dataset {spec.name} is not at hand (not generated in this cache, "
                          "$BENCH_CACHE)")
        return domain_set_dir(spec.name, seed), ""
    if read_manifest(seed) is None:
        return None, (f"dataset {spec.name} is not at hand (the synthetic suite, seed {seed}, is "
                      "not generated in this cache, $BENCH_CACHE; `python -m bench data list` "
                      "generates it)")
    return suite_dir(seed) / spec.name, ""


class DataAtHand:
    """Datasets and protocol folds opened for the readers, each once (see the module
    docstring). Methods return a string saying why when something is not at hand."""

    def __init__(self):
        self._datasets: dict = {}
        self._folds: dict = {}
        self._tests: dict = {}

    def dataset(self, name: str, data: dict):
        """Dataset ``name`` as the data settings ``data`` find it here, or why not."""
        from ..data.open import release_folder
        from ..data.registry import get_spec
        from ..core.errors import BenchError

        key = json.dumps([name, data.get("root"), data.get("paths"), data.get("synthetic_seed")],
                         sort_keys=True, default=str)
        if key not in self._datasets:
            try:
                spec = get_spec(name)
                if spec.synthetic:
                    root, why = _synthetic_root(spec, int(data.get("synthetic_seed") or 0))
                else:
                    root, why = release_folder(name, data.get("root"), data.get("paths") or {}), ""
                self._datasets[key] = spec.load(root) if root is not None else why
            except (BenchError, OSError, ValueError, TypeError) as exc:
                self._datasets[key] = f"dataset {name} is not at hand ({_why_not(exc)})"
        return self._datasets[key]

    def folds(self, cfg: dict, seed: int):
        """The protocol's folds for a run's config (its options and data, ``seed``), or why
        they cannot be listed here."""
        from ..core.errors import BenchError
        from ..core.registry import PROTOCOLS

        opts = cfg.get("protocol") or {}
        key = (universe_key(cfg), seed)
        if key in self._folds:
            return self._folds[key]
        name = opts.get("name")
        if name not in PROTOCOLS:
            out = f"protocol {name} is not installed here"
        else:
            try:
                protocol = PROTOCOLS.get(name)()
                data = cfg.get("data") or {}
                opened = {n: self.dataset(n, data) for n in protocol.datasets(opts)}
                missing = [v for v in opened.values() if isinstance(v, str)]
                out = missing[0] if missing else protocol.folds(opts, opened, seed)
            except (BenchError, KeyError, ValueError, TypeError, NotImplementedError) as exc:
                out = f"the folds of protocol {name} cannot be listed here ({_why_not(exc)})"
        self._folds[key] = out
        return out

    def expected(self, cfg: dict, seed: int, target: str, key_columns: tuple) -> Expected:
        """The units the protocol defines on ``target`` for a run's config (see Expected)."""
        if not key_columns:
            return Expected()
        folds = self.folds(cfg, seed)
        if isinstance(folds, str):
            return Expected(None, folds)
        return Expected(frozenset(unit_key(f, key_columns) for f in folds if target in f.tests))

    def test_set(self, cfg: dict, seed: int, fold_name: str):
        """``{target: sorted [(image, MOS)]}`` of fold ``fold_name``'s test sets; None when the
        protocol has no such fold; a string saying why when the folds cannot be listed."""
        folds = self.folds(cfg, seed)
        if isinstance(folds, str):
            return folds
        key = (universe_key(cfg), seed, fold_name)
        if key not in self._tests:
            fold = next((f for f in folds if f.name == fold_name), None)
            data = cfg.get("data") or {}
            tests = {}
            for target, (name, idx) in ([] if fold is None else fold.tests.items()):
                records = self.dataset(name, data).records
                tests[target] = sorted((records[i].image, records[i].mos) for i in idx)
            self._tests[key] = None if fold is None else tests
        return self._tests[key]


def unit_key(fold, key_columns: tuple) -> tuple:
    """The unit a fold is, in the terms records are grouped by (bench.core.summary): its name
    for the 'fold' column, its info for any other."""
    return tuple(fold.name if c == "fold" else fold.info.get(c) for c in key_columns)
