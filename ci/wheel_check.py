"""Packaging as installed (issue 22): build the wheel, install it into a fresh virtual
environment and use it from a folder outside the source tree: ``iqa-bench list``, one smoke
LODO fold and ``iqa-bench report``.

The fresh environment reuses the packages of an existing one (``--deps-from``, default: the
interpreter running this script) through a ``.pth`` line, so torch is not downloaded again;
pip installs whatever that environment lacks, from the package registry only. The harness
itself always comes from the new wheel (checked: ``bench.__file__`` lies in the fresh venv).

Usage: python ci/wheel_check.py [--deps-from PYTHON] [--keep DIR]
Exit status 0 when every step passes; the failing step's output otherwise.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    """Run ``cmd``; print it; return its stdout; exit 1 with its output if it fails."""
    print("$", " ".join(str(c) for c in cmd), flush=True)
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        sys.exit(f"wheel check: failed ({out.returncode}): {' '.join(map(str, cmd))}")
    return out.stdout


def _site_packages(python: str) -> str:
    """The purelib folder of the environment of ``python``."""
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _setuptools_at_least(major: int) -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= major


def build_wheel(dist: Path) -> Path:
    """Build the harness's wheel (no dependencies) into ``dist``; return its path. The
    installed setuptools builds it where it is recent enough (pyproject's build-system
    requires >= 77); otherwise pip fetches one into an isolated build environment."""
    isolation = [] if _setuptools_at_least(77) else ["--use-pep517"]
    no_isolation = ["--no-build-isolation"] if not isolation else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *no_isolation, *isolation,
          "--quiet", "-w", dist, ROOT], cwd=dist)
    wheels = sorted(dist.glob("iqa_bench-*.whl"))
    if not wheels:
        sys.exit(f"wheel check: no wheel was built in {dist}")
    return wheels[-1]


def fresh_venv(venv: Path, deps_from: str, wheel: Path) -> Path:
    """A new venv at ``venv`` that sees ``deps_from``'s packages, with ``wheel`` installed;
    return its bin folder."""
    _run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    (Path(_site_packages(str(py))) / "_reuse_deps.pth").write_text(
        _site_packages(deps_from) + "\n")
    # first the wheel alone (an editable install of the harness in deps_from must not count
    # as installed), then its dependencies: only those deps_from lacks are fetched
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", wheel], cwd=venv.parent)
    _run([py, "-m", "pip", "install", "--quiet", wheel], cwd=venv.parent)
    return bindir


def use_it(bindir: Path, work: Path) -> None:
    """From ``work`` (outside the tree): list, one smoke fold, report."""
    env = {**os.environ, "PYTHONPATH": ""}
    env.setdefault("BENCH_CACHE", str(work / "cache"))
    where = _run([bindir / "python", "-c", "import bench; print(bench.__file__)"], work, env)
    if not where.strip().startswith(str(bindir.parent)):
        sys.exit(f"wheel check: bench was imported from {where.strip()}, not the fresh venv")
    listing = _run([bindir / "iqa-bench", "list"], work, env)
    for name in ("erm", "cis", "lodo"):
        if f"  {name} " not in listing:
            sys.exit(f"wheel check: `iqa-bench list` does not list {name}")
    runs = work / "runs"
    _run([bindir / "iqa-bench", "run", "--profile", "smoke", "--protocol", "lodo", "--method",
          "erm", "--folds", "GB", "--quiet", "--runs", runs], work, env)
    _run([bindir / "iqa-bench", "report", "--runs", runs, "--out", work / "report",
          "--format", "latex", "--no-figures"], work, env)
    if not list((work / "report").rglob("*.tex")):
        sys.exit("wheel check: `iqa-bench report` wrote no LaTeX table")


def main() -> int:
    parser = argparse.ArgumentParser(prog="wheel_check.py", description=__doc__.split("\n")[0])
    parser.add_argument("--deps-from", default=sys.executable,
                        help="python whose installed packages the fresh venv reuses")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iqa-wheel-") as tmp:
        work = (args.keep or Path(tmp)).resolve()
        for sub in ("dist", "use"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        wheel = build_wheel(work / "dist")
        bindir = fresh_venv(work / "venv", args.deps_from, wheel)
        use_it(bindir, work / "use")
    print(f"wheel check: {wheel.name} installs and runs from outside the tree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
