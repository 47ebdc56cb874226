"""The dataset registry: name -> loader, aliases used to find release folders, and the
release's expected counts that ``bench data check`` compares against."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..core.errors import DataError, unknown_choice
from .records import Dataset


@dataclass(frozen=True)
class Expected:
    """Counts of the official release (None where the release has no such notion)."""

    images: int
    refs: Optional[int] = None
    types: Optional[int] = None
    levels: Optional[int] = None


@dataclass
class DatasetSpec:
    """How to load one dataset.

    load(root) -> Dataset reads the release folder ``root`` (raising DataError naming the
    file on a malformed score file). aliases: folder names (case-insensitive) under a
    ``--data-root`` that hold this release. synthetic: generated, needs no data root.
    """

    name: str
    load: Callable[[Path], Dataset]
    aliases: tuple[str, ...] = ()
    expected: Optional[Expected] = None
    kind: str = "synthetic"
    synthetic: bool = False
    description: str = ""
    extra: dict = field(default_factory=dict)


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, *, aliases=(), expected=None, kind="synthetic",
                     synthetic=False, description=""):
    """Decorator registering a loader function ``load(root: Path) -> Dataset``."""

    def deco(fn):
        if name in DATASETS:
            raise ValueError(f"dataset '{name}' is registered twice")
        DATASETS[name] = DatasetSpec(name, fn, tuple(aliases), expected, kind, synthetic, description)
        return fn

    return deco


#: The modules whose import registers the datasets (each calls :func:`register_dataset`),
#: imported by name on the first lookup, as the plug-in registries discover their packages
#: (bench.core.registry): they import this module, so it never imports them.
DATASET_MODULES = ("bench.data.loaders", "bench.data.synthetic.suite")


def _import_loaders() -> None:
    import importlib

    for name in DATASET_MODULES:
        importlib.import_module(name)


def get_spec(name: str) -> DatasetSpec:
    """The spec registered as ``name``; a UsageError listing the choices otherwise."""
    _import_loaders()
    if name not in DATASETS:
        raise unknown_choice("dataset", name, DATASETS)
    return DATASETS[name]


def dataset_names() -> list[str]:
    """All registered dataset names, sorted."""
    _import_loaders()
    return sorted(DATASETS)


def find_release(spec: DatasetSpec, data_root: Path) -> Optional[Path]:
    """The folder under ``data_root`` whose name matches one of ``spec``'s aliases
    (case-insensitively, '-' and '_' ignored), or None."""
    def norm(s: str) -> str:
        return s.lower().replace("-", "").replace("_", "").replace(" ", "")

    wanted = {norm(a) for a in (spec.name, *spec.aliases)}
    if not Path(data_root).is_dir():
        raise DataError(f"--data-root {data_root} is not a directory; point it at the folder "
                        "that holds the dataset releases")
    for child in sorted(Path(data_root).iterdir()):
        if child.is_dir() and norm(child.name) in wanted:
            return child
    return None
