"""Scoring outside predictions (submissions) on a protocol's test images.

A submission is a CSV with the columns ``image`` and ``prediction`` (higher = better
quality, any scale: SROCC/PLCC are scale-free), and optionally ``fold`` (the protocol's
fold name, e.g. ``livec-s3`` for a fine-tune split, when the model differs per fold) and
``target`` (the test set, needed only where two test sets share an image name). An image
is named by its path relative to the dataset root, as the harness records it
(``images/I01_01_01.png``), or by its base name where that is unambiguous.

The test images are the protocol's, fold by fold, computed from the records only (no image
is decoded). Test sets never depend on the training sets, so only the test datasets are
opened: scoring a LIVE-C submission to ``cross`` needs LIVE-C alone. Every test image needs
a prediction and every prediction a test image: missing, extra, duplicate, ambiguous or
empty entries are errors naming the first few of them.

Scores per (fold, target) are the harness's metrics (:func:`bench.core.metrics.all_metrics`).
What becomes of them (the protocol's summary, the table, the JSON, run folders that join
the leaderboard) is :mod:`bench.app.submission`.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

from ..core.errors import BenchError, UsageError

SHOWN = 5                       # names listed in an error before '... (N in all)'
METRIC_KEYS = ("srocc", "plcc", "krcc", "plcc_logistic")
BACKBONE = "external"
PROFILE = "submission"
_NAME_OK = re.compile(r"^[A-Za-z0-9._+-]+$")


@dataclass
class TestSet:
    """The test images of one (fold, target): dataset name, records, the fold's info, and
    the metrics the dataset's MOS was computed from (``label_source``; a synthetic set's
    pseudo-MOS, () for real MOS)."""

    fold: str
    target: str
    dataset: str
    records: list
    info: dict = field(default_factory=dict)
    label_source: tuple = ()


@dataclass
class Score:
    """The metrics of one (fold, target) and the rows scored."""

    test: TestSet
    metrics: dict
    rows: list[dict]


def score_config(protocol: str, dataset: Optional[str] = None, data_root: Optional[str] = None,
                 sets: tuple[str, ...] = (), seed: int = 0, train: Optional[str] = None,
                 name: str = "submission") -> dict:
    """The resolved config of a scoring: data settings, seed and ``protocol`` options (the
    protocol's defaults, ``dataset`` as its dataset or its targets, ``train`` as declared
    training sets, then ``--set`` items, which may address ``protocol.X`` too)."""
    from ..core.config import parse_value, resolve, set_key
    from ..data.registry import dataset_names
    from ..core.registry import PROTOCOLS

    names = dataset_names()
    cls = PROTOCOLS.get(protocol)
    if not _NAME_OK.match(name):
        raise UsageError(f"--name '{name}' may hold letters, digits and . _ + - only")
    cfg = resolve("quick", {"seed": seed, "data.root": data_root}, [], names)
    for item in sets:                 # data.X first: they decide real vs synthetic defaults
        if item.partition("=")[0].strip().startswith("data."):
            _apply_set(cfg, item, names, set_key, parse_value)
    real = bool(cfg["data"]["root"]) or bool(cfg["data"]["paths"])
    declared, options = cls.settings, {}
    if dataset is not None:
        if "dataset" in declared:
            options["dataset"] = dataset
        elif "targets" in declared:
            options["targets"] = _split_list(dataset)
        else:
            raise UsageError(f"--dataset does not apply to protocol '{protocol}' "
                             f"(its options: {', '.join(sorted(declared)) or 'none'})")
    if train is not None:
        if "train" not in declared:
            raise UsageError(f"--train does not apply to protocol '{protocol}'")
        options["train"] = _split_list(train)
    cfg["protocol"] = cls.resolve_options(protocol, options, real)
    cfg["method"] = f"submission:{name}"
    cfg["profile"] = PROFILE
    for item in sets:
        if not item.partition("=")[0].strip().startswith("data."):
            _apply_set(cfg, item, names, set_key, parse_value)
    if train is not None:   # a submission declaring it trained on a target is refused
        cls.check_options(cfg["protocol"])
    for n in cls.dataset_names(cfg["protocol"]):
        if n not in names:
            from ..core.errors import unknown_choice

            raise unknown_choice("dataset", n, names)
    return cfg


def _apply_set(cfg, item, names, set_key, parse_value) -> None:
    if "=" not in item:
        raise UsageError(f"--set expects key=value, got '{item}'")
    key, text = item.split("=", 1)
    set_key(cfg, key.strip(), parse_value(text.strip()), names)


def test_sets(cfg: dict, log: Callable[[str], None] = print) -> list[TestSet]:
    """The protocol's test sets, fold by fold, in the protocol's order; only the datasets
    tested are opened (the training sets play no part in which images test), unless the
    protocol's folds refuse an empty training list (fr-cross sizes its training part): then
    the declared training sets are opened too (records only)."""
    from ..data.open import open_dataset
    from ..core.registry import PROTOCOLS

    opts = dict(cfg["protocol"])
    protocol = PROTOCOLS.get(opts["name"])()
    test_opts = {**opts, "train": []} if "train" in opts else opts
    data = cfg["data"]
    datasets: dict = {}

    def opened(which: dict) -> dict:
        for n in protocol.datasets(which):
            if n not in datasets:
                datasets[n] = open_dataset(n, data["root"], data["paths"], data["synthetic_seed"], log)
        return datasets

    try:
        folds = protocol.folds(test_opts, opened(test_opts), cfg["seed"])
    except UsageError:
        if test_opts is opts:
            raise
        folds = protocol.folds(opts, opened(opts), cfg["seed"])
    out = []
    for fold in folds:
        for target, (name, idx) in fold.tests.items():
            recs = datasets[name].records
            out.append(TestSet(fold.name, target, name, [recs[i] for i in idx], dict(fold.info),
                               tuple(datasets[name].label_source)))
    if not out:
        raise BenchError(f"protocol '{opts['name']}' has no test images here")
    return out


def _norm(name: str) -> str:
    """A submitted or recorded image name as a normalised '/'-separated path."""
    return str(PurePosixPath(name.strip().replace("\\", "/"))) if name.strip() else ""


def _split_list(text) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()] if isinstance(text, str) else list(text)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f", ... ({len(items)} in all)" if len(items) > SHOWN else "")


def needs_fold_column(tests: list[TestSet]) -> bool:
    """True when an image is tested in several folds (fine-tune splits), so a prediction
    per fold may differ."""
    seen: set = set()
    for t in tests:
        for r in t.records:
            key = (t.dataset, r.image)
            if key in seen:
                return True
            seen.add(key)
    return False


def needs_target_column(tests: list[TestSet]) -> bool:
    """True when two test datasets hold an image of the same name."""
    owner: dict = {}
    for t in tests:
        for r in t.records:
            if owner.setdefault(r.image, t.dataset) != t.dataset:
                return True
    return False


def template_rows(tests: list[TestSet]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the CSV a submitter fills in: one row per test image (per fold
    when images test in several folds), ``prediction`` empty."""
    with_fold, with_target = needs_fold_column(tests), needs_target_column(tests)
    cols = (["fold"] if with_fold else []) + (["target"] if with_target else []) + ["image", "prediction"]
    rows, seen = [], set()
    for t in tests:
        for r in t.records:
            key = (t.fold if with_fold else "", t.dataset, r.image)
            if key in seen:
                continue
            seen.add(key)
            row = {"image": r.image, "prediction": ""}
            if with_fold:
                row["fold"] = t.fold
            if with_target:
                row["target"] = t.target
            rows.append(row)
    return cols, rows


def write_template(path: Path | str, tests: list[TestSet]) -> int:
    """Write the template CSV atomically; returns the number of rows."""
    import io

    from ..core.atomic import write_text_atomic

    cols, rows = template_rows(tests)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(Path(path), buf.getvalue())
    return len(rows)


def read_submission(path: Path | str) -> tuple[list[str], list[tuple[int, dict]]]:
    """(columns, [(line number, row)]) of a predictions CSV; BenchError naming the file
    when it is missing, empty or lacks the ``image``/``prediction`` columns."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            rows = [(i + 2, {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                             for k, v in row.items()}) for i, row in enumerate(reader)]
    except FileNotFoundError:
        raise BenchError(f"predictions file {path} not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"cannot read predictions file {path}: {exc}") from None
    repeated = sorted({c for c in cols if cols.count(c) > 1})
    if repeated:       # csv.DictReader would keep the last of them without a word
        raise BenchError(f"predictions file {path}: column(s) {', '.join(repeated)} appear more "
                         "than once; name each column once")
    missing = [c for c in ("image", "prediction") if c not in cols]
    if missing:
        raise BenchError(f"predictions file {path} lacks column(s) {', '.join(missing)}; it needs "
                         f"'image' and 'prediction' (write a template with --template FILE)")
    if not rows:
        raise BenchError(f"predictions file {path} has no rows")
    return cols, rows


class _Index:
    """Test images by full record path and by base name, per dataset."""

    def __init__(self, tests: list[TestSet]):
        self.by_path: dict[str, set] = {}
        self.by_base: dict[str, set] = {}
        self.target_dataset = {t.target: t.dataset for t in tests}
        for t in tests:
            for r in t.records:
                ident = (t.dataset, r.image)
                self.by_path.setdefault(_norm(r.image), set()).add(ident)
                self.by_base.setdefault(PurePosixPath(_norm(r.image)).name, set()).add(ident)

    def resolve(self, name: str, target: str = "") -> tuple[Optional[tuple], bool]:
        """(identity or None, ambiguous?) of a submitted image name."""
        key = _norm(name)
        cands = self.by_path.get(key) or (set() if "/" in key else self.by_base.get(key, set()))
        if target:
            ds = self.target_dataset.get(target, target)
            cands = {c for c in cands if c[0] == ds}
        if len(cands) == 1:
            return next(iter(cands)), False
        return None, len(cands) > 1


def match_predictions(tests: list[TestSet], path: Path | str,
                      log: Callable[[str], None] = print) -> list[Score]:
    """Score the predictions file at ``path`` on ``tests``; BenchError naming the missing,
    extra, duplicate, ambiguous or malformed entries when the file does not fit exactly."""
    from ..core.metrics import all_metrics

    cols, rows = read_submission(path)
    by_fold = "fold" in cols
    folds = {t.fold for t in tests}
    preds, problems = _read_predictions(rows, by_fold, folds, _Index(tests))
    _refuse_problems(path, problems, folds, by_fold)
    used: set = set()
    scores, missing = [], []
    for t in tests:
        pred, mos, out_rows = [], [], []
        for r in t.records:
            key = (t.fold if by_fold else "", (t.dataset, r.image))
            if key not in preds:
                missing.append(f"{t.fold}/{r.image}" if by_fold else r.image)
                continue
            used.add(key)
            pred.append(preds[key])
            mos.append(r.mos)
            out_rows.append({"target": t.target, "image": r.image, "mos": r.mos, "prediction": preds[key]})
        scores.append(Score(t, all_metrics(pred, mos) if len(pred) == len(t.records) else {}, out_rows))
    extra = problems["extra"] + [f"{k[0]}/{k[1][1]}" if by_fold else k[1][1]
                                 for k in preds if k not in used]
    parts = []
    if missing:
        parts.append(f"{len(missing)} test image(s) have no prediction: {_listing(missing)}")
    if extra:
        parts.append(f"{len(extra)} image(s) are not test images of this protocol: {_listing(extra)}")
    if parts:
        what = tests[0].dataset if len({t.dataset for t in tests}) == 1 else "its test sets"
        raise BenchError(f"{path} does not match the test images of {what}: " + "; ".join(parts))
    return scores


def _read_predictions(rows, by_fold: bool, folds: set, index: _Index) -> tuple[dict, dict]:
    """(fold, (dataset, image)) -> prediction of every usable row, and the rows that are
    not usable by kind: bad (not finite), dup, ambiguous, extra (no test image), fold."""
    preds: dict[tuple, float] = {}
    problems: dict[str, list[str]] = {k: [] for k in ("bad", "dup", "ambiguous", "extra", "fold")}
    for line, row in rows:
        name, text = row.get("image", ""), row.get("prediction", "")
        fold = row.get("fold", "") if by_fold else ""
        if by_fold and fold not in folds:
            problems["fold"].append(f"line {line} '{fold}'")
            continue
        ident, ambiguous = index.resolve(name, row.get("target", ""))
        if ident is None:
            problems["ambiguous" if ambiguous else "extra"].append(name or f"(line {line}: empty name)")
            continue
        if text == "":
            continue                  # not filled in: reported below as having no prediction
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems["bad"].append(f"line {line} ({name}: {text!r})")
            continue
        key = (fold, ident)
        if key in preds:
            problems["dup"].append(name)
            continue
        preds[key] = value
    return preds, problems


def _refuse_problems(path, problems: dict, folds: set, by_fold: bool) -> None:
    """BenchError naming the first kind of unusable rows of a predictions file."""
    if problems["fold"]:
        raise BenchError(f"{path}: unknown fold(s) {_listing(problems['fold'])}; the folds are "
                         f"{_listing(sorted(folds))}")
    if problems["bad"]:
        raise BenchError(f"{path}: {len(problems['bad'])} prediction(s) are not finite numbers: "
                         f"{_listing(problems['bad'])}")
    if problems["ambiguous"]:
        raise BenchError(f"{path}: {len(problems['ambiguous'])} image name(s) match several test "
                         f"images: {_listing(problems['ambiguous'])}; give the path relative to "
                         "the dataset root (and a 'target' column where datasets share names)")
    if problems["dup"]:
        raise BenchError(f"{path}: {len(problems['dup'])} image(s) have more than one prediction"
                         + (" in one fold" if by_fold else "") + f": {_listing(problems['dup'])}")
