"""The checks a reader makes on one finished run before it believes its record: the record
and ``config.json`` agree on what ran; every stated metric is reproduced by the rows of
``predictions.csv`` (:mod:`bench.core.recompute`), with at least 2 test images per target; and,
where the dataset is at hand (:class:`bench.app.expected.DataAtHand`), the run's fold is one
of the protocol's folds and its predictions cover exactly that fold's test images, with the
dataset's scores. A failed check is a :class:`bench.core.record.BadRunFolder` naming the folder
and what is wrong, so the folder is named and skipped, never used.
"""
from __future__ import annotations

from collections import Counter

from ..core.display_text import clean
from .expected import DataAtHand
from ..core.predictions_file import BadPredictions, read_predictions
from ..core.recompute import mismatches
from ..core.record import BadRunFolder, RunFolder, RunRecord

MOS_SLACK = 1e-6          # predictions.csv writes MOS with 6 decimals
MIN_IMAGES = 2            # a correlation needs two images


def _consistent(folder: RunFolder, rec: RunRecord, cfg: dict) -> None:
    """BadRunFolder when metrics.json and config.json name different runs."""
    pairs = (("protocol", rec.protocol, (cfg.get("protocol") or {}).get("name")),
             ("method", rec.method, cfg.get("method")), ("seed", rec.seed, cfg.get("seed")),
             ("fold", rec.fold, cfg.get("fold", rec.fold)))
    for key, stated, configured in pairs:
        if stated != configured:
            raise BadRunFolder(folder.path, f"metrics.json and config.json disagree on the "
                                            f"{key} ({clean(stated, 40)!r} vs {clean(configured, 40)!r})")


def _read(folder: RunFolder) -> dict:
    try:
        return read_predictions(folder.path / "predictions.csv")
    except FileNotFoundError:
        raise BadRunFolder(folder.path, "has a done marker but no predictions.csv") from None
    except (OSError, BadPredictions) as exc:
        text = str(exc)
        raise BadRunFolder(folder.path, text if text.startswith("predictions.csv")
                           else f"predictions.csv {text}") from None


def check_metrics(folder: RunFolder, rec: RunRecord) -> dict:
    """The predictions by target, after checking that they reproduce every target's
    stated n, SROCC, PLCC and KRCC and that n >= 2; BadRunFolder otherwise."""
    scored = _read(folder)
    extra = sorted(set(scored) - set(rec.targets))
    if extra:
        raise BadRunFolder(folder.path, f"predictions.csv scores target {clean(extra[0], 40)!r}, "
                                        "which metrics.json does not state")
    for target, stated in rec.targets.items():
        name = clean(target, 40)
        if stated["n"] < MIN_IMAGES:
            raise BadRunFolder(folder.path, f"target {name!r} states n = {stated['n']}: a "
                                            f"correlation needs at least {MIN_IMAGES} test images")
        rows = scored.get(target)
        if rows is None:
            raise BadRunFolder(folder.path, f"predictions.csv has no rows of target {name!r}")
        wrong = mismatches(stated, rows.pred, rows.mos)
        if wrong:
            raise BadRunFolder(folder.path, f"metrics.json does not match predictions.csv on "
                                            f"target {name!r}: {'; '.join(wrong)}")
    return scored


def _same_images(got, want: list) -> str:
    """'' when the rows (images, MOS) are the fold's test set ``want`` (sorted (image,
    MOS) pairs); else what differs, in words."""
    rows = sorted(zip(got.images, got.mos.tolist()))
    if len(rows) != len(want):
        return f"{len(rows)} images scored, the fold tests {len(want)}"
    counts = Counter(image for image, _ in want)
    if Counter(image for image, _ in rows) != counts:
        other = next(image for image, _ in rows if image not in counts) if any(
            image not in counts for image, _ in rows) else ""
        return (f"image {clean(other, 60)!r} is not a test image of the fold" if other
                else "its images are not the fold's test images")
    for (image, mos), (_, truth) in zip(rows, want):
        if abs(mos - truth) > MOS_SLACK:
            return f"image {clean(image, 60)!r} has MOS {mos:.6f}, the dataset {truth:.6f}"
    return ""


def check_against_data(folder: RunFolder, rec: RunRecord, cfg: dict, scored: dict,
                       data: DataAtHand) -> None:
    """Where the protocol's folds can be listed here: BadRunFolder unless the run's fold is
    one of them, tests the same targets, and its predictions score exactly the fold's test
    images with the dataset's MOS. Nothing is checked when the data is not at hand."""
    tests = data.test_set(cfg, rec.seed, rec.fold)
    if isinstance(tests, str):
        return
    if tests is None:
        raise BadRunFolder(folder.path, f"fold {clean(rec.fold, 40)!r} is not a fold of protocol "
                                        f"{clean(rec.protocol, 40)} with these options and data")
    if set(tests) != set(rec.targets):
        raise BadRunFolder(folder.path, f"it states targets {sorted(map(clean, rec.targets))}, "
                                        f"fold {clean(rec.fold, 40)} tests {sorted(tests)}")
    for target, want in tests.items():
        why = _same_images(scored[target], want)
        if why:
            raise BadRunFolder(folder.path, f"predictions.csv on target {clean(target, 40)!r} "
                                            f"does not match the dataset: {why}")


def check_run(folder: RunFolder, rec: RunRecord, cfg: dict, data: DataAtHand) -> None:
    """Every check of the module docstring on one valid, finished run; BadRunFolder on the
    first that fails."""
    _consistent(folder, rec, cfg)
    scored = check_metrics(folder, rec)
    check_against_data(folder, rec, cfg, scored, data)
