"""What is registered, for `python -m bench list`: methods, protocols (their options and
how they summarise), datasets, and, for one dataset, every protocol's fold names."""
from __future__ import annotations

from typing import Callable


def _first_line(obj) -> str:
    """The first paragraph of ``obj``'s docstring, joined into one line (a description
    that wraps in the source is shown whole)."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def method_rows() -> list[dict]:
    """Per registered method (aliases included) and family: name, display, description."""
    from ..core.registry import METHODS

    rows = [{"name": name, "display": getattr(cls, "display", name),
             "description": _first_line(cls), "family": False}
            for name, cls in METHODS.items()]
    for family in METHODS.families():
        factory = METHODS.family_factory(family)
        desc = getattr(factory, "description", None) or _first_line(factory)
        rows.append({"name": family, "display": family, "description": desc, "family": True})
    return rows


def protocol_rows() -> list[dict]:
    """Per protocol, in listing order: description, options, summary rule."""
    from ..core.registry import PROTOCOLS

    return [{"name": name, "description": _first_line(cls),
             "options": [f"--{s.flag}" for s in cls.settings.values() if s.flag],
             "statistic": cls.statistic, "unit": "seed" if not cls.key_columns else cls.unit,
             "headline": cls.headline}
            for name, cls in sorted(PROTOCOLS.items(), key=lambda kv: (kv[1].order, kv[0]))]


def dataset_rows() -> list[dict]:
    """Per registered dataset: kind and description."""
    from ..data.registry import DATASETS, dataset_names

    return [{"name": name, "kind": getattr(DATASETS.get(name), "kind", "") or "",
             "description": getattr(DATASETS.get(name), "description", "") or ""}
            for name in dataset_names()]


def _width(rows: list[dict]) -> int:
    return max((len(r["name"]) for r in rows), default=4) + 2


def methods_lines() -> list[str]:
    """'  name  display: description' per method, then one line per family, aligned."""
    rows = method_rows()
    width = _width(rows)
    return [f"  {r['name']:<{width}}"
            + (f"a family: {r['description']}" if r["family"]
               else f"{r['display']}: {r['description']}") for r in rows]


def protocols_lines() -> list[str]:
    """Per protocol: its description, its options, and its summary rule."""
    rows = protocol_rows()
    width = _width(rows)
    out = []
    for r in rows:
        out.append(f"  {r['name']:<{width}}{r['description']}")
        out.append(f"  {'':<{width}}options: {' '.join(r['options']) or 'none'}; summary: "
                   f"{r['statistic']} over {r['unit']}s (± sample std, n), ranked by "
                   f"{r['headline']}")
    return out


def datasets_lines() -> list[str]:
    """Per registered dataset: its kind and description, aligned."""
    rows = dataset_rows()
    width, kinds = _width(rows), max((len(r["kind"]) for r in rows), default=4) + 2
    return [f"  {r['name']:<{width}}{r['kind']:<{kinds}}{r['description']}".rstrip()
            for r in rows]


def fold_lines(dataset: str, data_root: str | None, log: Callable[[str], None]) -> list[str]:
    """The fold names of every protocol that can run on ``dataset``, aligned (see
    :func:`fold_rows`)."""
    rows = fold_rows(dataset, data_root, log)
    width = _width(rows)
    return [f"  {r['name']:<{width}}" + (f"(not applicable: {r['error']})" if r["error"] else
                                         f"{len(r['folds'])} fold(s): {', '.join(r['folds'])}")
            for r in rows]


def fold_rows(dataset: str, data_root: str | None, log: Callable[[str], None]) -> list[dict]:
    """Per protocol: its fold names on ``dataset`` (``folds``), or why it cannot run there
    (``error``). Opens the dataset: the synthetic suite is generated into the cache the
    first time."""
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
            out.append({"name": name, "folds": [], "error": str(exc).splitlines()[0]})
            continue
        out.append({"name": name, "folds": [f.name for f in folds], "error": None})
    return out
