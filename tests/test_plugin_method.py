"""The plug-in path as a user takes it: (1) the README's "add your method" snippet, run
exactly as printed there, under --protocol lodo with its own --set method.gamma, and its
"add a protocol" snippet, run with erm; (2) a
method package installed through real package metadata (a dist-info with an entry point
in the group ``bench.methods``, on a subprocess's PYTHONPATH; the registry is not patched),
run end to end with --set method.lr_scale on the smoke profile."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core.registry import METHODS, PROTOCOLS
from tests.test_run import NAME, release, run_cli, run_folders  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


def readme_snippet(path: str, doc: str = "README.md") -> str:
    """The python block that starts with the comment ``# <path>`` in the README's "Adding a
    method, a protocol, ..." section, or anywhere in ``doc`` when that is another page (the
    protocol's worked example lives in docs/extending.md)."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    if doc == "README.md":
        text = text.split("## Adding a method, a protocol", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
              if b.startswith(f"# {path}\n")]
    assert len(blocks) == 1, f"{doc} holds one python block for {path}"
    return blocks[0]


def readme_method_snippet() -> str:
    """The README's complete method."""
    return readme_snippet("methods/tails.py")


def test_readme_protocol_snippet_runs(release, tmp_path, monkeypatch):
    from bench.cli import main

    PROTOCOLS.discover()
    monkeypatch.setattr(PROTOCOLS, "_items", dict(PROTOCOLS._items))        # undone after
    code = readme_snippet("protocols/half.py", "docs/extending.md")
    exec(compile(code, "README.md:half", "exec"), {"__name__": "bench.protocols.half"})
    out = tmp_path / "out"
    assert main(["run", "--protocol", "half", "--method", "erm", "--profile", "smoke",
                 "--dataset", NAME, "--device", "cpu", "--set", f"data.{NAME}={release}",
                 "--runs", str(out), "--quiet"]) == 0
    rec = json.loads(run_folders(out)["half"].joinpath("metrics.json").read_text())
    assert rec["protocol"] == "half" and rec["n"] > 0 and len(rec["loss_history"]) == 2


def test_readme_method_snippet_runs_under_lodo(release, tmp_path, monkeypatch):
    code = readme_method_snippet()
    assert 15 <= len([ln for ln in code.splitlines() if ln.strip()]) <= 35   # "about 20 lines"
    METHODS.discover()  # find every method first: the copy below is what is restored after
    monkeypatch.setattr(METHODS, "_items", dict(METHODS._items))            # undone after
    exec(compile(code, "README.md:tails", "exec"), {"__name__": "bench.methods.tails"})
    assert "erm-tails" in METHODS.names()
    out = tmp_path / "out"
    assert run_cli(release, out, "--set", "method.gamma=4", method="erm-tails", folds="A") == 0
    folder = run_folders(out)["A"]
    cfg = json.loads((folder / "config.json").read_text())
    rec = json.loads((folder / "metrics.json").read_text())
    assert cfg["method"] == "erm-tails" and cfg["method_settings"] == {"gamma": 4}
    assert rec["method_display"] == "ERM-tails" and rec["n"] == 8 and len(rec["loss_history"]) == 2
    # its own hyperparameter changes the run: gamma=0 is a different run with other numbers
    assert run_cli(release, out, "--set", "method.gamma=0", method="erm-tails", folds="A") == 0
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 2
    other = json.loads((next(p for p in folders if p != folder) / "metrics.json").read_text())
    assert other["loss_history"] != rec["loss_history"]


DRIVER = """
import sys
from pathlib import Path
from bench.cli import main
from bench.data.registry import DATASETS, DatasetSpec, dataset_names
from bench.data.synthetic import suite
from tests.test_run import NAME, load_release
dataset_names()
DATASETS[NAME] = DatasetSpec(NAME, load_release, kind="synthetic", synthetic=False)
DATASETS[NAME + "2"] = DatasetSpec(NAME + "2", load_release, kind="synthetic", synthetic=False)
def no_suite(*a, **k):
    raise SystemExit("the synthetic suite must not be generated")
suite.ensure_suite = no_suite
sys.exit(main(sys.argv[1:]))
"""


def install_plugin(site: Path) -> None:
    """Copy tests/plugins/benchplug into ``site`` with a dist-info declaring its entry point."""
    shutil.copytree(ROOT / "tests" / "plugins" / "benchplug", site / "benchplug")
    info = site / "benchplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.methods]\nplug-erm = benchplug\n")


@pytest.mark.slow
def test_entry_point_plugin_runs_end_to_end_with_its_own_setting(release, tmp_path):
    site = tmp_path / "site"
    install_plugin(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "BENCH_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "out"
    args = ["run", "--protocol", "lodo", "--method", "plug-erm", "--profile", "smoke",
            "--dataset", NAME, "--folds", "A", "--device", "cpu", "--set", f"data.{NAME}={release}",
            "--set", "method.lr_scale=0.5", "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = run_folders(out)["A"]
    cfg = json.loads((folder / "config.json").read_text())
    rec = json.loads((folder / "metrics.json").read_text())
    assert cfg["method_settings"] == {"lr_scale": 0.5}
    assert rec["method"] == "plug-erm" and rec["method_display"] == "PlugERM" and rec["n"] == 8
    assert rec["provenance"]["method"] == {"module": "benchplug", "object": "ScaledERM",
                                           "distribution": "benchplug", "version": "0.1"}
    assert rec["provenance"]["protocol"]["module"] == "bench.protocols.lodo"
    assert cfg["plugins"]["method"]["distribution"] == "benchplug"   # its identity says so
    # an unknown key of the plug-in is refused with its valid list
    bad = subprocess.run([sys.executable, "-c", DRIVER, *args[:-5], "--set", "method.lr=1",
                          "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "method.lr_scale" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_entry_point_plugin_runs_under_cross_and_finetune(release, tmp_path):
    """The same plug-in under the other two protocols: cross-dataset (train on one release,
    test on another) and fine-tune (its pretrained model artifact shared by two splits)."""
    site = tmp_path / "site"
    install_plugin(site)
    other = tmp_path / "release2"
    shutil.copytree(release, other)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "BENCH_CACHE": str(tmp_path / "cache")}
    common = ["--method", "plug-erm", "--profile", "smoke", "--device", "cpu",
              "--train", NAME, "--targets", NAME + "2", "--set", f"data.{NAME}={release}",
              "--set", f"data.{NAME}2={other}", "--set", "method.lr_scale=0.5", "--quiet"]
    for protocol, extra in (("cross", []), ("finetune", ["--splits", "2", "--train-ratio", "0.5"])):
        out = tmp_path / protocol
        proc = subprocess.run([sys.executable, "-c", DRIVER, "run", "--protocol", protocol,
                               *common, *extra, "--out", str(out)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        records = [json.loads(p.read_text()) for p in out.glob("*/metrics.json")]
        assert records and all(r["method"] == "plug-erm" and r["protocol"] == protocol
                               for r in records)
        assert all(json.loads((p.parent / "config.json").read_text())["method_settings"]
                   == {"lr_scale": 0.5} for p in out.glob("*/metrics.json"))
    # fine-tune: two splits, one pretrained model artifact (kind 'model') reused by the second
    assert len(list((tmp_path / "finetune").glob("*/metrics.json"))) == 2
    models = list((tmp_path / "finetune" / "models").glob("*/metrics.json"))
    assert len(models) == 1 and json.loads(models[0].read_text())["kind"] == "model"


def test_the_method_example_is_the_same_in_the_readme_and_docs_extending():
    assert readme_snippet("methods/tails.py") == readme_snippet("methods/tails.py",
                                                                "docs/extending.md")
