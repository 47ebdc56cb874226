"""One aggregation for every consumer: the protocol's summarise(). The leaderboard, the
report's measured cells, `check` and `run`'s table give the same number for the same runs
(fine-tune: the median over splits), runs of different settings are never averaged, and no
module outside protocols/ compares a protocol's name to a string."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench.core.record import RunFolder
from bench.core.registry import PROTOCOLS
from bench.app.results import load_results
from bench.reports.leaderboard import build_leaderboard, format_text
from bench.reports.measured import aggregate, label_entities, select_runs
from bench.reports.regression import measured_value
from bench.reports.tables import get_spec

from fake_runs import make_run, read_json

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def finetune_runs(tmp_path):
    root = tmp_path / "runs"
    for split in range(5):
        make_run(root, "finetune", "cis", dataset="tid2013", fold=f"livec-s{split}",
                 target="livec", split=split, fold_count=5, noise=0.2 + 0.1 * split)
    return root


def test_every_consumer_reports_the_median_over_splits(finetune_runs):
    srocc = [read_json(p)["srocc"] for p in finetune_runs.rglob("metrics.json")]
    want = float(np.median(srocc))
    assert want != pytest.approx(float(np.mean(srocc)))             # the test can tell them apart
    res = load_results(finetune_runs)
    board = build_leaderboard(res)
    assert board.iloc[0]["srocc"] == pytest.approx(want)
    assert board.iloc[0]["srocc_std"] == pytest.approx(np.std(srocc, ddof=1))
    # tid2013 and livec are not at hand: how many splits the protocol defines is unknown
    assert board.iloc[0]["aggregate"] == "median of 5 splits (unverified)"
    assert measured_value(res, "srocc") == pytest.approx(want)
    spec = get_spec(5)
    runs = label_entities(spec, select_runs(spec, res, ["cis"]), ["cis"])
    cells = aggregate(spec, runs)
    cell = next(iter(cells.values()))[("livec", "SROCC")]
    assert cell.mean == pytest.approx(want) and cell.n == 5
    recs = [RunFolder(p.parent).read() for p in finetune_runs.rglob("metrics.json")]
    summary = PROTOCOLS.get("finetune").summarise(recs)["livec"]
    assert summary["srocc"].value == pytest.approx(want) and summary.complete


def test_leaderboard_keeps_settings_apart_and_labels_them(tmp_path):
    root = tmp_path / "runs"
    for fold in ("GB", "LB"):
        make_run(root, fold=fold, fold_count=2)
    make_run(root, fold="GB", fold_count=2, train__epochs=0)
    board = build_leaderboard(load_results(root))
    assert len(board) == 2
    assert sorted(board["setting_label"]) == ["train.epochs=0", "train.epochs=2"]
    zero = board[board["setting_label"] == "train.epochs=0"].iloc[0]
    # the dataset is not at hand, but the other setting's runs show a second fold
    assert zero["aggregate"] == "mean over 1 of at least 2 folds" and not zero["complete"]
    assert "train.epochs=0" in format_text(board)


def test_no_protocol_name_comparisons_outside_protocols():
    pattern = re.compile(r"""([=!]=|\bin)\s*\(?\s*["'](lodo|cross|finetune)["']"""
                         r"""|["'](lodo|cross|finetune)["']\s*[=!]=""")
    hits = []
    for folder in ("bench", "reports"):
        for path in (ROOT / folder).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, hits


def test_run_options_come_from_the_registered_protocols():
    """A protocol declares its own flag; `run` offers it and routes it to protocol.<key>,
    and refuses it for a protocol that does not declare it."""
    import argparse

    from bench.commands.options import add_run_arguments, spec_from_args
    from bench.core.errors import UsageError
    from bench.core.settings import Setting

    lodo = PROTOCOLS.get("lodo")

    class Holdout(lodo):
        """Test-only protocol with an option of its own."""

        settings = {**lodo.settings, "holdout_share": Setting(
            0.5, "float", "share held out", low=0, high=1, flag="holdout-share")}

    PROTOCOLS.add("holdout-test", Holdout)
    try:
        parser = argparse.ArgumentParser()
        add_run_arguments(parser)
        args = parser.parse_args(["--protocol", "holdout-test", "--holdout-share", "0.25"])
        assert spec_from_args(args).config()["protocol"]["holdout_share"] == 0.25
        args = parser.parse_args(["--protocol", "lodo", "--holdout-share", "0.25"])
        with pytest.raises(UsageError, match="--holdout-share does not apply to protocol 'lodo'"):
            spec_from_args(args).config()
    finally:
        PROTOCOLS._items.pop("holdout-test")
