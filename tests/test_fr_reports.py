"""`python -m bench report` on full-reference runs: an FR table per protocol (methods x
targets, SROCC/PLCC, rank), label-source metrics marked and left out of bold and rank,
training-free metrics carried into the tables of the other split protocols, and the
label-budget figure."""
from __future__ import annotations

import dataclasses

import pytest

from bench.cli import main
from bench.data.registry import DATASETS
from tests import test_fr_contract as contract
from tests import test_run
from tests.test_fr_contract import run
from tests.test_run import NAME

release = test_run.release   # the tiny on-disk release fixture (with references)
toy_fr = contract.toy_fr       # the toy FR method fixture


@pytest.fixture()
def runs(release, tmp_path, monkeypatch, toy_fr):
    """FR runs on the tiny release, labelled as a pseudo-MOS set built from GMSD and NLPD."""
    spec = DATASETS[NAME]
    monkeypatch.setitem(DATASETS, NAME, dataclasses.replace(
        spec, load=lambda root: dataclasses.replace(spec.load(root), label_source=("gmsd", "nlpd"))))
    out = tmp_path / "runs"
    split = ("--dataset", NAME, "--splits", "2")
    for method in ("pyiqa-fr:gmsd", "pyiqa-fr:psnr", "pyiqa-fr:ssim", toy_fr):
        assert run(release, out, "fr-split", method, *split) == 0
    assert run(release, out, "fr-fewlabel", toy_fr, *split, "--label-fraction", "0.25,0.5") == 0
    return out


def _spearman(runs, a: str, b: str) -> float:
    """Mean over folds of the Spearman correlation of two methods' predictions."""
    import json

    import pandas as pd
    from scipy.stats import spearmanr

    preds: dict = {}
    for cfg in runs.glob("*/config.json"):
        c = json.loads(cfg.read_text())
        if c["protocol"]["name"] == "fr-split" and c["method"] in (a, b):
            p = pd.read_csv(cfg.parent / "predictions.csv").set_index("image")["prediction"]
            preds.setdefault(c["fold"], {})[c["method"]] = p
    rhos = [spearmanr(d[a], d[b][d[a].index]).statistic for d in preds.values()]
    return sum(rhos) / len(rhos)


def _table(folder, stem_part: str) -> str:
    (path,) = [p for p in folder.glob("fr*.md") if stem_part in p.name]
    return path.read_text()


def _row(table: str, start: str) -> list[str]:
    (line,) = [ln for ln in table.splitlines() if ln.startswith(f"| {start}")]
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.slow
def test_fr_tables_mark_label_sources_and_keep_them_out_of_rank_and_bold(runs, tmp_path, capsys):
    rep = tmp_path / "report"
    assert main(["report", "--runs", str(runs), "--out", str(rep), "--bootstrap", "0"]) == 0
    split = _table(rep, "fr-split")
    gmsd = _row(split, "GMSD")
    assert "\\[label source\\]" in gmsd[0] and gmsd[-1] == "-" and not any("**" in c for c in gmsd)
    # SSIM is marked a near label source exactly when its predictions agree with GMSD's
    rho = _spearman(runs, "pyiqa-fr:ssim", "pyiqa-fr:gmsd")
    ssim = _row(split, "SSIM")
    assert ("\\[~label source\\]" in ssim[0]) == (rho >= 0.95)
    ranked = [_row(split, name) for name in ("PSNR", "ToyFR")] + ([] if rho >= 0.95 else [ssim])
    assert sorted(int(r[-1]) for r in ranked) == list(range(1, len(ranked) + 1))
    best = max(ranked, key=lambda r: float(r[1].split()[0].strip("*")))
    assert best[1].startswith("**") and int(best[-1]) == 1
    assert "pipeline, not the science" in split
    # the few-label table: a column group per fraction, the training-free rows carried over
    few = _table(rep, "fr-fewlabel")
    assert f"{NAME}@0.25" in few and f"{NAME}@0.5" in few
    assert "(from fr-split)" in _row(few, "PSNR")[0]
    assert "\\[label source\\]" in _row(few, "GMSD")[0]
    figures = list((rep / "figures").glob("label-budget*.png"))
    assert len(figures) == 1
    assert "label-budget" in (rep / "index.html").read_text()
