"""IQA generalization benchmark harness.

Layers, lowest first (each imports only those below it; tests/test_import_contract.py
checks): ``bench.core`` (errors, settings, registries, config, run records, metrics),
``bench.data`` (datasets, caches), ``bench.engine`` (the method and protocol contracts,
the step machinery, the loop, one fold's training and testing), ``bench.app`` (results,
sweeps, launchers, scoring, speed) and ``bench.reports``, then ``bench.commands`` and the
command line. The plug-in packages ``bench.methods`` and ``bench.protocols`` build on
core, data and engine; nothing in ``bench`` imports them: the registries discover them.

In the repository the plug-in packages keep their own top-level folders (``methods/``,
``protocols/``, ``reports/``); the wheel installs them as ``bench/methods`` and so on
(``package-dir`` in pyproject.toml). Run from a source tree, the finder below maps the
three names to those folders, so a user's own ``methods`` package can never stand in for
the harness's.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

from .core.version import __version__

__all__ = ["RunSpec", "__version__", "run"]

PLUGIN_FOLDERS = ("methods", "protocols", "reports")


class _PluginFolders(importlib.abc.MetaPathFinder):
    """Finds ``bench.<name>`` in the repository folder ``<name>/`` beside ``bench/``."""

    def __init__(self, folders: dict[str, str]):
        self.folders = folders

    def find_spec(self, fullname, path=None, target=None):
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])


def _map_plugin_folders() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    folders = {f"{__name__}.{name}": os.path.join(repo, name) for name in PLUGIN_FOLDERS
               if not os.path.isdir(os.path.join(here, name))
               and os.path.isfile(os.path.join(repo, name, "__init__.py"))}
    if folders and not any(isinstance(f, _PluginFolders) for f in sys.meta_path):
        # first: an editable install of another checkout must not win over this one
        sys.meta_path.insert(0, _PluginFolders(folders))


_map_plugin_folders()



def __getattr__(name: str):
    """``bench.RunSpec`` and ``bench.run`` (the Python API, bench/app/api.py), imported on
    first use so that importing a part of the harness does not import the engine."""
    if name == "RunSpec":
        from .app.spec import RunSpec

        return RunSpec
    if name == "run":
        from .app.api import run

        return run
    raise AttributeError(f"module 'bench' has no attribute '{name}'")
