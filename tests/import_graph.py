"""The project's import graph, read from the source with ``ast`` (nothing is imported), and
the layer contract it must keep (tests/test_import_contract.py).

Modules are named as they import: ``bench.*`` for the harness, with the repository's
``methods/``, ``protocols/`` and ``reports/`` folders as ``bench.methods``,
``bench.protocols`` and ``bench.reports``. Every ``import`` and ``from ... import``
counts, wherever it stands (a late import inside a function is an edge like any other).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PLUGIN_FOLDERS = {"methods": "bench.methods", "protocols": "bench.protocols",
                  "reports": "bench.reports"}

# Lowest first. A module of a layer may import its own layer and the layers listed.
LAYERS = ("core", "data", "engine", "methods", "protocols", "app", "reports", "commands", "root")
ALLOWED = {
    "core": {"core"},
    "data": {"core", "data"},
    "engine": {"core", "data", "engine"},
    "methods": {"core", "data", "engine", "methods"},
    "protocols": {"core", "data", "engine", "protocols"},
    "app": {"core", "data", "engine", "app"},
    "reports": {"core", "data", "engine", "app", "reports"},
    "commands": {"core", "data", "engine", "app", "reports", "commands"},
    "root": {"core", "data", "engine", "app", "reports", "commands", "root"},
}
# The one package every method may share (methods/shared/): helpers, no registrations.
SHARED_METHODS = "bench.methods.shared"


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line`` of ``path``."""

    source: str
    target: str
    path: Path
    line: int


def layer_of(module: str) -> str:
    """The layer of a project module (see LAYERS)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__", "cli"):
        return "root"
    return parts[1]


def method_package(module: str) -> str | None:
    """The method package a ``bench.methods`` module belongs to: its first component
    below bench.methods (a subpackage, or a one-module method); None for the package
    itself."""
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) > 2 else None


def module_files(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the project under ``root``."""
    out = {}
    for path in sorted((root / "bench").rglob("*.py")):
        out[_name(path.relative_to(root).parts)] = path
    for folder, package in PLUGIN_FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            rest = path.relative_to(root / folder).parts
            out[_name((*package.split("."), *rest))] = path
    return out


def _name(parts) -> str:
    parts = list(parts)
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def edges(files: dict[str, Path]) -> list[Edge]:
    """Every import of a project module by a project module (self-imports left out)."""
    out = []
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, module, is_package, files):
                if target != module:
                    out.append(Edge(module, target, path, node.lineno))
    return out


def _targets(node, module: str, is_package: bool, files: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [_known(a.name, files) for a in node.names if _known(a.name, files)]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = []
    for alias in node.names:   # `from pkg import submodule` is an import of the submodule
        sub = f"{source}.{alias.name}"
        if sub in files:
            found.append(sub)
        elif _known(source, files):
            found.append(_known(source, files))
    return found


def _known(name: str, files: dict) -> str | None:
    """``name`` if it is a project module (an unknown submodule: its nearest known parent)."""
    if not name.startswith("bench"):
        for folder, package in PLUGIN_FOLDERS.items():  # a stray top-level import
            if name == folder or name.startswith(folder + "."):
                return "<top-level " + name + ">"
        return None
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def violations(all_edges: list[Edge]) -> list[str]:
    """Every edge that breaks the contract, as 'file:line: source -> target (why)'."""
    bad = []
    for e in all_edges:
        why = _why(e.source, e.target)
        if why:
            bad.append(f"{e.path}:{e.line}: {e.source} -> {e.target} ({why})")
    return bad


def _why(source: str, target: str) -> str | None:
    if target.startswith("<top-level"):
        return "the plug-in packages are imported as bench.methods, bench.protocols, bench.reports"
    a, b = layer_of(source), layer_of(target)
    if b not in ALLOWED[a]:
        return f"layer {a} may not import layer {b}"
    if a == "methods" and b == "methods":
        mine, theirs = method_package(source), method_package(target)
        if theirs not in (None, mine, SHARED_METHODS):
            return f"a method imports another method's package ({theirs}); share code " \
                   f"through {SHARED_METHODS}"
        if mine == SHARED_METHODS and theirs not in (None, SHARED_METHODS):
            return "the shared helpers import a method"
    return None


def cycles(all_edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
