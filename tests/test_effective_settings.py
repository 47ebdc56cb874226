"""Records state what ran (issue 19, item 1): the \\C ablations pin one content cluster
(``Method.fixed``), so their config, run identity, record and every table say 1; settings
declared with a ``column`` are the results columns, shown generically and named in words;
``check`` keeps reading the committed ci/baseline.csv (``clusters`` column)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.app.results import load_results
from bench.app.spec import RunSpec
from bench.app.sweep import Axis, expand
from bench.core.config import config_hash, resolve
from bench.core.errors import UsageError
from bench.core.registry import METHODS
from bench.engine.fold import column_facts
from bench.engine.protocol import Fold
from bench.engine.session import fold_config
from bench.reports.leaderboard import build_leaderboard, format_html, format_text
from bench.reports.regression import compare, load_baseline, write_baseline

from fake_runs import make_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("method", ["cis-c", "cip-c"])
def test_an_ablation_records_the_clusters_it_used(method):
    cfg = resolve("smoke", method=method)
    assert cfg["method_settings"]["clusters"] == 1               # the config says what runs
    cls = METHODS.get(method)
    assert cls.effective_settings(cfg)["clusters"] == 1
    assert fold_config(cfg, Fold("GB"))["method_settings"]["clusters"] == 1   # the identity
    cfg["method_settings"]["clusters"] = 2                       # a stale copy is overruled
    assert cls.effective_settings(cfg)["clusters"] == 1
    facts = column_facts(cls, cfg)
    assert facts["clusters"] == 1 and facts["setting_columns"] == {"clusters": "content clusters"}
    assert cls(cfg).describe()["settings"]["clusters"] == 1       # method_facts.settings


def test_the_identity_follows_the_effective_value():
    """A \\C run hashes with clusters = 1; a config whose copy says otherwise never gets a
    run folder (it would name a run that cannot happen)."""
    cfg = resolve("smoke", method="cis-c")
    stale = {**cfg, "method_settings": {**cfg["method_settings"], "clusters": 2}}
    with pytest.raises(UsageError, match="fixes clusters at 1"):
        fold_config(stale, Fold("GB"))
    cis = resolve("smoke", method="cis")
    assert config_hash(fold_config(cis, Fold("GB"))) != config_hash(fold_config(cfg, Fold("GB")))
    assert fold_config(cis, Fold("GB"))["method_settings"]["clusters"] == 2   # unchanged


def test_another_value_for_a_pinned_setting_is_a_usage_error():
    with pytest.raises(UsageError, match="method 'cis-c' fixes clusters at 1"):
        resolve("smoke", {"method.clusters": 3}, method="cis-c")
    assert resolve("smoke", {"method.clusters": 1}, method="cis-c")["method_settings"]["clusters"] == 1
    assert resolve("smoke", {"method.clusters": 3}, method="cis")["method_settings"]["clusters"] == 3


def test_a_sweep_leaves_a_pinned_setting_out():
    base = RunSpec(method="cis", profile="smoke")
    specs = expand(base, [Axis("method", ["cis", "cis-c"]), Axis("setting", [1, 2], "method.clusters")])
    assert [(s.method, s.settings.get("method.clusters")) for s in specs] == \
        [("cis", 1), ("cis", 2), ("cis-c", None)]


def test_tables_show_the_recorded_value_named_in_words(tmp_path):
    make_run(tmp_path, method="cis")
    make_run(tmp_path, method="cis-c")
    make_run(tmp_path, method="erm")
    res = load_results(tmp_path)
    assert res.attrs["setting_columns"] == {"clusters": "content clusters"}
    got = {m: c for m, c in zip(res["method"], res["clusters"])}
    assert got["cis"] == 2 and got["cis-c"] == 1 and got["erm"] != got["erm"]   # NaN: none
    board = build_leaderboard(res)
    shown = dict(zip(board["method"], board["clusters"]))
    assert shown["cis"] == 2 and shown["cis-c"] == 1 and pd.isna(shown["erm"])
    text = format_text(board)
    assert "content clusters=1" in text and "content clusters=2" in text
    page = format_html(board, tmp_path / "board.html")
    assert ">content clusters</th>" in page and ">fine-tune training ratio</th>" in page
    assert ">c</th>" not in page and ">t</th>" not in page


def test_a_record_written_before_the_declaration_still_shows_its_column(tmp_path):
    make_run(tmp_path, method="cis", legacy_columns=True)
    # an older CIS\C record: its config and facts copied clusters = 2, the method used 1
    make_run(tmp_path, method="cis-c", legacy_columns=True, method_settings__clusters=2)
    res = load_results(tmp_path)
    assert dict(zip(res["method"], res["clusters"])) == {"cis": 2, "cis-c": 1}
    assert res.attrs["setting_columns"] == {"clusters": "content clusters"}


def test_a_setting_column_of_a_plug_in_is_shown_by_its_own_words(tmp_path):
    make_run(tmp_path, method="plugged", facts={"depth": 7, "setting_columns": {"depth": "tree depth"}})
    make_run(tmp_path, method="cis")
    res = load_results(tmp_path)
    assert res.attrs["setting_columns"] == {"depth": "tree depth", "clusters": "content clusters"}
    board = build_leaderboard(res)
    page = format_html(board, tmp_path / "b.html")
    assert ">tree depth</th>" in page and ">content clusters</th>" in page


def test_check_reads_the_committed_baseline_by_the_recorded_clusters(tmp_path):
    baseline = load_baseline(ROOT / "ci" / "baseline.csv")
    assert "clusters" in baseline.columns
    cis_rows = baseline[baseline["method"] == "cis"]
    assert set(cis_rows["clusters"]) == {"2"}
    runs = tmp_path / "runs"
    make_run(runs, method="cis", profile="quick", noise=0.2)
    make_run(runs, method="cis-c", profile="quick", noise=0.2)
    res = load_results(runs)
    report = compare(cis_rows.reset_index(drop=True), res)
    assert (report["runs"] == 1).all()            # the cis run, never the cis-c one
    assert all("clusters=2" in w for w in report["where"])
    written = write_baseline(res, 0.05)
    assert list(written.columns[:8]) == ["metric", "protocol", "method", "dataset", "target",
                                         "backbone", "profile", "clusters"]
    assert dict(zip(written["method"], written["clusters"])) == {"cis": 2, "cis-c": 1}
