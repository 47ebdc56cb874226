"""Optional dependencies (issue 22): submitit (Slurm) and openpyxl (CID2013's workbook) are
package extras; a missing one is a one-line error naming the extra to install."""
from __future__ import annotations

import sys

import pytest

from bench.core.errors import BenchError, require_extra


def test_a_missing_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import raises ModuleNotFoundError
    with pytest.raises(BenchError) as err:
        require_extra("submitit", "slurm", "the submitit launcher")
    msg = str(err.value)
    assert "\n" not in msg
    assert "pip install 'iqa-bench[slurm]'" in msg and "submitit" in msg


def test_an_installed_extra_is_returned():
    assert require_extra("json", "none", "a test").dumps([1]) == "[1]"


def test_cid2013_without_openpyxl_names_the_cid2013_extra(monkeypatch, tmp_path):
    from bench.data.loaders.cid2013 import read_cid2013_workbook

    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(BenchError, match=r"iqa-bench\[cid2013\]"):
        read_cid2013_workbook(tmp_path / "CID2013 data - version 12112014.xlsx")
