"""The plug-in registry: lazy discovery, "did you mean", override, and broken plug-ins
named and skipped (through real package metadata for entry points)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from bench.core.errors import UsageError
from bench.core.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """A package 'regtest_plugins' with one good module, one raising on import."""
    name = f"regtest_plugins_{os.getpid()}_{tmp_path.name}".replace("-", "_")
    _write(tmp_path / name / "__init__.py", "")
    _write(tmp_path / name / "good.py", """
        import sys
        REG = sys.modules["regtest_holder"].REG
        @REG.register("alpha", "alpha-alias")
        class Alpha:
            pass
    """)
    _write(tmp_path / name / "broken.py", "raise RuntimeError('this plug-in is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "regtest_holder",
                        types.SimpleNamespace(REG=Registry("widget", package=name)))
    return name


def test_broken_module_is_named_and_skipped(plugin_package, capsys):
    REG = sys.modules["regtest_holder"].REG
    assert REG.get("alpha").__name__ == "Alpha"
    assert REG.names() == ["alpha", "alpha-alias"]
    err = capsys.readouterr().err
    assert f"{plugin_package}.broken" in err and "this plug-in is broken" in err
    assert len(err.strip().splitlines()) == 1          # one line, and only once
    REG.names()
    assert capsys.readouterr().err == ""
    assert list(REG.failures) == [f"module '{plugin_package}.broken'"]


def test_did_you_mean_and_choices():
    reg = Registry("method")
    for n in ("cis", "cip", "erm"):
        reg.add(n, object())
    with pytest.raises(UsageError) as exc:
        reg.get("csi")
    msg = str(exc.value)
    assert "did you mean 'cis'?" in msg and "valid choices: cip, cis, erm" in msg
    with pytest.raises(UsageError) as exc:
        reg.get("zzzzzz")
    assert "did you mean" not in str(exc.value)


def test_register_twice_needs_override():
    reg = Registry("loss")
    first, second = object(), object()
    reg.add("l1", first)
    reg.add("l1", first)                                # same object again: fine
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("l1", second)
    reg.add("l1", second, override=True)
    assert reg.get("l1") is second


@pytest.mark.slow
def test_entry_points_real_metadata_broken_one_skipped(tmp_path):
    """Entry points found through a *.dist-info on sys.path: the good plug-in registers,
    a module raising on import and an entry point naming a missing object are each named
    in a one-line warning, and the built-in methods still work."""
    site = tmp_path / "site"
    _write(site / "goodplug.py", """
        from bench.core.registry import METHODS
        @METHODS.register("plugged")
        class Plugged:
            display = "Plugged"
    """)
    _write(site / "badplug.py", "raise ImportError('badplug needs a missing library')\n")
    _write(site / "benchplug-0.1.dist-info" / "METADATA",
           "Metadata-Version: 2.1\nName: benchplug\nVersion: 0.1\n")
    _write(site / "benchplug-0.1.dist-info" / "entry_points.txt", """
        [bench.methods]
        good = goodplug
        bad = badplug
        ghost = goodplug:NoSuchThing
    """)
    code = ("from bench.core.registry import METHODS\n"
            "names = METHODS.names()\n"
            "print('plugged' in names, 'cis' in names, 'erm' in names)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]
    warnings = [l for l in out.stderr.splitlines() if "warning" in l]
    assert any("'bad = badplug'" in w and "missing library" in w for w in warnings), out.stderr
    assert any("'ghost = goodplug:NoSuchThing'" in w for w in warnings), out.stderr
    assert len(warnings) == 2
