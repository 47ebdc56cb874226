"""`bench list` (issue 22): columns aligned however long a name (a family's 'NAME' too),
descriptions whole, and a bad pyiqa metric name fails at once (pyiqa is not imported) with
a suggestion across the pyiqa families."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.app.listing import methods_lines
from bench.core.errors import UsageError
from bench.core.registry import METHODS

ROOT = Path(__file__).resolve().parents[1]


def test_method_columns_are_aligned_and_families_described():
    lines = methods_lines()
    starts = set()
    for line in lines:
        name = line.split()[0]
        rest = line[2 + len(name):]
        assert rest.startswith("  "), line  # at least two spaces after every name
        starts.add(len(line) - len(rest.lstrip()))
    assert len(starts) == 1, lines
    fr = [ln for ln in lines if ln.split()[0] == "pyiqa-fr:NAME"]
    assert fr and "pyiqa-fr:" in fr[0].split(None, 1)[1]


def test_descriptions_are_whole_paragraphs():
    """A docstring whose first sentence wraps in the source is listed to its end."""
    for line in methods_lines():
        name = line.split()[0]
        if name in METHODS.names():
            doc = (METHODS.get(name).__doc__ or "").strip().split("\n\n")[0]
            assert " ".join(doc.split()) in line


@pytest.mark.parametrize("name,hint", [("pyiqa:psnr", "pyiqa-fr:psnr"),
                                       ("pyiqa:piqee", "pyiqa:piqe"),
                                       ("pyiqa-fr:gmdd", "pyiqa-fr:gmsd"),
                                       ("pyiqa-fr:niqe", "pyiqa:niqe")])
def test_bad_pyiqa_names_suggest_across_families(name, hint):
    with pytest.raises(UsageError, match=f"did you mean '{hint}'") as err:
        METHODS.get(name)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


@pytest.mark.slow
def test_a_bad_pyiqa_name_fails_without_importing_pyiqa(tmp_path):
    code = ("import sys\nfrom bench.core.registry import METHODS\n"
            "try:\n    METHODS.get('pyiqa:psnr')\nexcept Exception as e:\n    print(e)\n"
            "print('pyiqa' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert "did you mean 'pyiqa-fr:psnr'" in lines[0], out.stderr
    assert lines[1] == "False"
