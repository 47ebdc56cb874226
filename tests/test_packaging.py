"""The harness is one importable package, ``bench``: its plug-in packages (methods,
protocols, reports) are ``bench.methods`` and so on, found in the repository's top-level
folders from a source tree and installed under ``bench/`` by the wheel, so a user's own
folders of those names change nothing (issue 22)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench.core.registry import METHODS, PROTOCOLS

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FOLDERS = {"bench.methods": "methods", "bench.protocols": "protocols",
                  "bench.reports": "reports"}


def _declared_packages() -> list[str]:
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["setuptools"]["packages"]


def _package_folders() -> set[str]:
    """Every package of the source tree, by the name it installs under."""
    found = set()
    for init in (ROOT / "bench").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(ROOT).parts))
    for name, folder in PLUGIN_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rest = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rest)))
    return found


def test_pyproject_lists_every_package():
    """A package missing from [tool.setuptools] packages would be missing from the wheel."""
    assert sorted(_declared_packages()) == sorted(_package_folders())


@pytest.mark.slow
def test_a_users_own_folders_change_nothing(tmp_path):
    """`bench list` from a folder holding packages named methods, protocols, reports and
    benchmarks lists every method and protocol, and never imports those packages."""
    for name in ("methods", "protocols", "reports", "benchmarks"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise RuntimeError('the user\\'s own {name} package was imported')\n")
    (tmp_path / "methods" / "mine.py").write_text("X = 1\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bench", "list"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ")}
    missing = [n for n in [*METHODS.names(), *PROTOCOLS.names()] if n not in listed]
    assert not missing, out.stdout


def test_the_wheel_holds_the_harness_alone(tmp_path):
    """The wheel's only top-level package is bench; the plug-in packages are inside it
    with their data (templates, the paper's numbers); tests and benchmarks are not."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("bench", *PLUGIN_FOLDERS.values(), "benchmarks"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    out = subprocess.run([sys.executable, "-c", "import setuptools.build_meta as b, sys; "
                          "print(b.build_wheel(sys.argv[1]))", str(tmp_path / "dist")],
                         cwd=src, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 and "No module named" in out.stderr:
        pytest.skip(f"cannot build here: {out.stderr.strip().splitlines()[-1]}")
    assert out.returncode == 0, out.stderr
    wheel = tmp_path / "dist" / out.stdout.strip().splitlines()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"bench"}
    for path in ("bench/methods/causal/cis.py", "bench/protocols/lodo.py",
                 "bench/reports/paper_numbers.csv", "bench/reports/templates/table.tex.j2",
                 "bench/engine/loop.py"):
        assert path in names
