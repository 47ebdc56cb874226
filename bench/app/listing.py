"""What is registered, for `python -m bench list`: methods, protocols (their options and
how they summarise), datasets, and, for one dataset, every protocol's fold names."""
from __future__ import annotations

from typing import Callable


def _first_line(obj) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def methods_lines() -> list[str]:
    """'  name  (display)  first docstring line' per registered method, aliases included."""
    from ..core.registry import METHODS

    items = list(METHODS.items())
    width = max((len(n) for n, _ in items), default=4) + 2
    return ([f"  {name:<{width}}{getattr(cls, 'display', name)}: {_first_line(cls)}"
             for name, cls in items]
            + [f"  {family:<{width}}a family: any NAME its provider knows (e.g. pyiqa:piqe)"
               for family in METHODS.families()])


def protocols_lines() -> list[str]:
    """Per protocol: its description, its options, and its summary rule."""
    from ..core.registry import PROTOCOLS

    out = []
    items = sorted(PROTOCOLS.items(), key=lambda kv: (kv[1].order, kv[0]))
    width = max((len(n) for n, _ in items), default=8) + 2
    for name, cls in items:
        opts = " ".join(f"--{s.flag}" for s in cls.settings.values() if s.flag) or "none"
        unit = "seed" if not cls.key_columns else cls.unit
        out.append(f"  {name:<{width}}{_first_line(cls)}")
        out.append(f"  {'':<{width}}options: {opts}; summary: {cls.statistic} over {unit}s "
                   f"(± sample std, n), ranked by {cls.headline}")
    return out


def datasets_lines() -> list[str]:
    """Per registered dataset: its kind and description."""
    from ..data.registry import DATASETS, dataset_names

    out = []
    for name in dataset_names():
        spec = DATASETS.get(name)
        kind = getattr(spec, "kind", "") if spec else ""
        desc = getattr(spec, "description", "") if spec else ""
        out.append(f"  {name:<12}{kind:<11}{desc}".rstrip())
    return out


def fold_lines(dataset: str, data_root: str | None, log: Callable[[str], None]) -> list[str]:
    """The fold names of every protocol that can run on ``dataset`` (opens the dataset:
    the synthetic suite is generated into the cache the first time)."""
    from ..core.config import resolve
    from ..data.open import open_dataset
    from ..data.registry import dataset_names
    from ..core.errors import BenchError, unknown_choice
    from ..core.registry import PROTOCOLS

    names = dataset_names()
    if dataset not in names:
        raise unknown_choice("dataset", dataset, names)
    cfg = resolve("quick", {"data.root": data_root}, [], names)
    data = cfg["data"]
    ds = {dataset: open_dataset(dataset, data["root"], data["paths"], data["synthetic_seed"], log)}
    out = []
    for name, cls in sorted(PROTOCOLS.items(), key=lambda kv: (kv[1].order, kv[0])):
        opts = cls.defaults(bool(data["root"]))
        for key in ("dataset",):
            if key in opts:
                opts[key] = dataset
        for key in ("train", "targets"):
            if key in opts:
                opts[key] = [dataset]
        try:
            folds = cls().folds(opts, ds, cfg["seed"])
        except (BenchError, KeyError, ValueError) as exc:
            out.append(f"  {name:<10}(not applicable: {str(exc).splitlines()[0]})")
            continue
        shown = ", ".join(f.name for f in folds)
        out.append(f"  {name:<10}{len(folds)} fold(s): {shown}")
    return out
