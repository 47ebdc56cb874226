"""`--method pyiqa:NAME`: the registry resolves the prefixed name, pyiqa:piqe runs end to
end offline (lower-is-better scores negated), a metric whose weights are absent fails in
one line naming the file and the folder, unknown names suggest the right one."""
from __future__ import annotations

import json

import numpy as np
import pytest
import test_run
from test_run import run_cli, run_folders

from bench.core.errors import UsageError
from bench.core.registry import METHODS, Registry

release = test_run.release   # the tiny on-disk release fixture


def test_registry_family_resolves_prefixed_names_once():
    reg = Registry("thing")
    made = []

    def factory(rest):
        if rest == "bad":
            raise UsageError("no such thing")
        made.append(rest)
        return f"<{rest}>"

    reg.register_family("fam", factory)
    assert reg.get("fam:a") == "<a>" and reg.get("fam:a") == "<a>" and made == ["a"]
    assert "fam:a" in reg and "fam:bad" not in reg and "other:a" not in reg
    with pytest.raises(UsageError, match="fam:NAME"):
        reg.get("nothing")


def test_unknown_pyiqa_metric_suggests_the_name():
    with pytest.raises(UsageError, match="did you mean 'pyiqa:piqe'"):
        METHODS.get("pyiqa:piqee")
    with pytest.raises(UsageError, match="no per-image"):
        METHODS.get("pyiqa:fid")


def test_piqe_end_to_end_offline(release, tmp_path):
    out = tmp_path / "out"
    assert run_cli(release, out, method="pyiqa:piqe", folds="A") == 0
    folder = run_folders(out)["A"]
    m = json.loads((folder / "metrics.json").read_text())
    facts = m["method_facts"]
    assert m["method"] == "pyiqa:piqe" and m["method_display"] == "PIQE (pyiqa, zero-shot)"
    assert facts["lower_better"] is True and facts["trained"] is False and m["n"] == 8
    pred = [float(r.split(",")[-1]) for r in (folder / "predictions.csv").read_text().splitlines()[1:]]
    assert len(pred) == 8 and all(np.isfinite(pred))
    # negated PIQE: scores are <= 0 (PIQE is in [0, 100], lower = better)
    assert max(pred) <= 0


def test_missing_weights_is_one_line_naming_file_and_folder(release, tmp_path, capsys,
                                                           monkeypatch):
    import pyiqa.utils.download_util as dl

    monkeypatch.setattr(dl, "DEFAULT_CACHE_DIR", str(tmp_path / "no-weights"))
    code = run_cli(release, tmp_path / "out", method="pyiqa:musiq", folds="A")
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("bench: error")]
    assert code == 1 and len(line) == 1
    assert "musiq_koniq_ckpt" in line[0] and str(tmp_path / "no-weights") in line[0]
    assert "Traceback" not in err and "Downloading" not in err


def test_zero_shot_runs_under_a_protocol_with_pretraining(tmp_path, monkeypatch):
    """pyiqa:piqe under cross: nothing is trained, the target is scored; no model artifact."""
    import json

    from test_run import NAME, load_release, write_release

    from bench.cli import main
    from bench.data.registry import DATASETS, DatasetSpec

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    release = write_release(tmp_path / "release")
    for name in (NAME, NAME + "2"):
        monkeypatch.setitem(DATASETS, name, DatasetSpec(name, load_release, kind="synthetic",
                                                        synthetic=False))
    assert main(["run", "--protocol", "cross", "--method", "pyiqa:piqe", "--profile", "smoke",
                 "--device", "cpu", "--train", NAME, "--targets", NAME + "2", "--set",
                 f"data.{NAME}={release}", "--set", f"data.{NAME}2={release}", "--quiet",
                 "--out", str(tmp_path / "out")]) == 0
    rec = json.loads(next((tmp_path / "out").glob("*/metrics.json")).read_text())
    assert rec["n"] == 24 and np.isfinite(rec["srocc"]) and not (tmp_path / "out" / "models").exists()

class _Planted:
    """An object whose unpickling would run code (os.system alike)."""

    def __reduce__(self):
        return (print, ("planted code ran",))


def test_weights_only_loads_refuses_a_planted_file_even_when_asked_not_to(tmp_path, capsys):
    """pyiqa's own code passes weights_only=False in places; inside the guard (metric
    construction, scoring, the pseudo-MOS) it is forced to True: plain weights load, a
    pickled object is refused by name and its code never runs; torch.load is restored."""
    import torch

    from bench.core.errors import BenchError
    from bench.data.pyiqa_offline import weights_only_loads

    plain, planted = tmp_path / "plain.pt", tmp_path / "planted.pt"
    torch.save({"w": torch.ones(2)}, plain)
    torch.save({"w": _Planted()}, planted)
    real = torch.load
    with weights_only_loads("pyiqa:test"):
        assert torch.equal(torch.load(plain, weights_only=False)["w"], torch.ones(2))
        with pytest.raises(BenchError, match="planted.pt"):
            torch.load(planted, weights_only=False)
    assert torch.load is real
    assert "planted code ran" not in capsys.readouterr().out
