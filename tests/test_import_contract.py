"""The import contract (issue 18), checked on the source's import graph (tests/import_graph.py):

* each layer imports only itself and the layers below it (core < data < engine < app <
  reports < commands < the command line; the plug-in packages bench.methods and
  bench.protocols build on core, data and engine, and nothing else imports them);
* a method imports no other method's package, only the shared helpers
  (``bench.methods.shared``); protocols import no method;
* no import cycle among the project's modules (late imports count);
* nothing under bench/ (reports included) names a method's setting: the settings worth a
  column are declared (``Setting(..., column=...)``) and shown generically.

Each check is also run on a planted violation, so that it is known to fail when it should.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import import_graph as g
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Cycles inside modules that other work is rewriting, each with its reason; the test fails
# when a listed cycle is gone (take it off) or any other cycle appears.
PENDING_CYCLES: dict[frozenset, str] = {
    frozenset({"bench.data.synthetic.domains", "bench.data.synthetic.suite"}):
        "suite.py imports domains.py to register its sets, domains.py reuses suite.py's "
        "writers and loader (write_labels, _load_set, mark_label_source); not yet split",
}


@pytest.fixture(scope="module")
def graph():
    files = g.module_files(ROOT)
    return files, g.edges(files)


def test_the_graph_is_read(graph):
    """The reader sees the project: every layer has modules, and imports between them."""
    files, edges = graph
    assert {g.layer_of(m) for m in files} == set(g.LAYERS)
    assert any(e.source == "bench.engine.stages" and e.target == "bench.engine.loop" for e in edges)
    assert any(e.source.startswith("bench.methods.") and e.target == "bench.engine.method"
               for e in edges)


def test_layers_import_only_layers_below(graph):
    _, edges = graph
    bad = g.violations(edges)
    assert not bad, "\n".join(bad)


def test_no_import_cycles(graph):
    _, edges = graph
    found = {frozenset(c) for c in g.cycles(edges)}
    new = [sorted(c) for c in found if c not in PENDING_CYCLES]
    assert not new, f"import cycles: {new}"
    gone = [PENDING_CYCLES[c] for c in PENDING_CYCLES if c not in found]
    assert not gone, f"a pending cycle is gone; take it off PENDING_CYCLES: {gone}"


def method_setting_names() -> set[str]:
    """The names of the settings registered methods declare, less those that are also a
    key of the core config (``epochs``, ``lr``, ...: words the engine owns too)."""
    from bench.core.profiles import CORE_SETTINGS
    from bench.core.registry import METHODS

    names = {k for _, cls in METHODS.items() for k in (getattr(cls, "settings", {}) or {})}
    return names - {part for key in CORE_SETTINGS for part in key.split(".")}


def named_settings(files: dict, names: set[str]) -> list[str]:
    """'module:line: name' for every string constant (docstrings aside) under bench/ and
    reports/ (the plug-in packages aside) that is one of ``names``."""
    hits = []
    for module, path in files.items():
        if g.layer_of(module) in ("methods", "protocols"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node.value in names and id(node) not in docs):
                hits.append(f"{module}:{node.lineno}: '{node.value}'")
    return hits


def test_bench_names_no_method_setting(graph):
    files, _ = graph
    names = method_setting_names()
    assert {"clusters", "meta_step", "support_frac"} <= names   # the check sees them
    hits = named_settings(files, names)
    assert not hits, "\n".join(hits)


# ---------------------------------------------------------------- planted violations
def _plant(tmp_path: Path, files: dict[str, str]) -> tuple[dict, list]:
    """A copy of the project's module map with the given modules' sources replaced (or
    added) in ``tmp_path``; (files, edges)."""
    real = g.module_files(ROOT)
    for module, source in files.items():
        path = tmp_path / (module.replace(".", "_") + ".py")
        path.write_text(textwrap.dedent(source))
        real[module] = path
    return real, g.edges(real)


@pytest.mark.parametrize("module, source, why", [
    ("bench.core.planted", "from ..engine.loop import train\n", "layer core may not import layer engine"),
    ("bench.data.planted", "def f():\n    from bench.app.results import load_results\n",
     "layer data may not import layer app"),
    ("bench.engine.planted", "from bench.methods.erm import ERM\n", "layer engine may not import layer methods"),
    ("bench.app.planted", "from bench.commands import run\n", "layer app may not import layer commands"),
    ("bench.protocols.planted", "from bench.methods import erm\n", "layer protocols may not import layer methods"),
    ("bench.methods.planted", "from bench.methods.causal.cis import CIS\n", "another method's package"),
    ("bench.engine.planted", "import methods.erm\n", "imported as bench.methods"),
])
def test_a_planted_layer_violation_is_caught(tmp_path, module, source, why):
    _, edges = _plant(tmp_path, {module: source})
    bad = [v for v in g.violations(edges) if module in v]
    assert bad and why in bad[0], bad


def test_the_shared_method_helpers_are_allowed(tmp_path):
    _, edges = _plant(tmp_path, {"bench.methods.planted": "from .shared import reptile\n"})
    assert not [v for v in g.violations(edges) if "planted" in v]


def test_a_planted_cycle_is_caught(tmp_path):
    _, edges = _plant(tmp_path, {
        "bench.engine.planted_a": "from . import planted_b\n",
        "bench.engine.planted_b": "def late():\n    from .planted_a import x\n"})
    assert ["bench.engine.planted_a", "bench.engine.planted_b"] in g.cycles(edges)


@pytest.mark.parametrize("module", ["bench.engine.planted", "bench.reports.planted",
                                    "bench.app.results"])
def test_a_planted_setting_name_is_caught_in_any_layer(tmp_path, module):
    """In the engine, in the reports and where the results table's one exception was."""
    files, _ = _plant(tmp_path, {module: 'def f(facts):\n    return facts.get("clusters")\n'})
    assert any(h.startswith(module + ":") and "clusters" in h
               for h in named_settings(files, method_setting_names()))


def test_a_planted_setting_name_is_caught(tmp_path):
    files, _ = _plant(tmp_path, {"bench.engine.planted": 'def f(cfg):\n    return cfg["meta_step"]\n'})
    assert any("planted" in h and "meta_step" in h
               for h in named_settings(files, method_setting_names()))
