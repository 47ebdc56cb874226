"""`--method pyiqa-fr:NAME`: a pyiqa full-reference metric scores the test pairs end to end
(offline, lower-is-better negated, stronger distortion of the same picture scored lower),
the run records its test set's label source, and refusals are one line: an unknown metric
(with a suggestion), a metric whose weights are not cached (naming file and folder), an
image size the metric cannot take."""
from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from bench.data.registry import DATASETS
from bench.core.errors import UsageError
from bench.core.registry import METHODS
from tests import test_run
from tests.test_fr_contract import run
from tests.test_run import NAME, run_folders

release = test_run.release   # the tiny on-disk release fixture (with references)


def test_unknown_fr_metric_suggests_the_name():
    with pytest.raises(UsageError, match="did you mean 'pyiqa-fr:gmsd'"):
        METHODS.get("pyiqa-fr:gmdd")
    assert METHODS.get("pyiqa-fr:ssim").inputs == "pairs"


def _rows(folder):
    with open(folder / "predictions.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_gmsd_scores_test_pairs_offline_and_records_the_label_source(release, tmp_path, monkeypatch):
    spec = DATASETS[NAME]
    with_source = dataclasses.replace(
        spec, load=lambda root: dataclasses.replace(spec.load(root), label_source=("gmsd", "nlpd")))
    monkeypatch.setitem(DATASETS, NAME, with_source)
    out = tmp_path / "out"
    assert run(release, out, "fr-split", "pyiqa-fr:gmsd", "--dataset", NAME, "--splits", "1") == 0
    folder = run_folders(out)["s0"]
    rec = json.loads((folder / "metrics.json").read_text())
    assert rec["method_facts"]["lower_better"] is True and rec["method_facts"]["trained"] is False
    assert rec["label_source"] == {NAME: ["gmsd", "nlpd"]}
    assert not (folder / "model.pt").exists()
    rows = _rows(folder)
    assert len(rows) == rec["n"] == 6
    pred = {r["image"]: float(r["prediction"]) for r in rows}
    assert max(pred.values()) <= 0 and all(np.isfinite(list(pred.values())))
    # the same picture and distortion at level 2 scores below level 1 (noise, contrast,
    # quantisation all grow with the level in the tiny release)
    for name, p in pred.items():
        if name.endswith("_1.png"):
            assert pred[name[:-6] + "_2.png"] < p


def test_missing_weights_is_one_line_naming_file_and_folder(release, tmp_path, capsys):
    code = run(release, tmp_path / "o", "fr-split", "pyiqa-fr:lpips", "--dataset", NAME, "--splits", "1")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("bench:")]
    assert code == 1 and len(err) == 1
    assert "weights file" in err[0] and ".pth" in err[0] and "never downloads" in err[0]


@pytest.mark.slow
def test_metric_that_cannot_take_the_size_is_refused_by_name(release, tmp_path, capsys):
    code = run(release, tmp_path / "o", "fr-split", "pyiqa-fr:ms_ssim", "--dataset", NAME, "--splits", "1")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("bench:")]
    assert code == 2 and len(err) == 1 and "data.size" in err[0] and "ms_ssim" in err[0]


def test_any_other_failure_to_build_offline_is_one_line(release, tmp_path, capsys, monkeypatch):
    import pyiqa

    def no_hub(*a, **k):
        raise OSError("cannot find the requested files in the local cache")

    monkeypatch.setattr(pyiqa, "create_metric", no_hub)
    code = run(release, tmp_path / "o", "fr-split", "pyiqa-fr:psnr", "--dataset", NAME, "--splits", "1")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("bench:")]
    assert code == 1 and len(err) == 1
    assert "cannot be built offline" in err[0] and "never downloads" in err[0]
