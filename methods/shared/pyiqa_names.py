"""pyiqa's metric names without importing pyiqa (an import takes about 18 s on a CPU
machine), so that a bad ``pyiqa:NAME`` or ``pyiqa-fr:NAME`` fails at once, with a
suggestion that looks across both families (``pyiqa:psnr`` -> ``pyiqa-fr:psnr``).

The names come from pyiqa's own table, ``pyiqa/default_model_configs.py``, executed alone
(it imports only ``collections``); where that file cannot be read, ``pyiqa.list_models``.
"""
from __future__ import annotations

import functools
import importlib.util
import os

from bench.core.errors import UsageError, suggest

#: family prefix -> pyiqa's metric_mode
FAMILIES = {"pyiqa": "NR", "pyiqa-fr": "FR"}
#: pyiqa NR metrics that score folders of images, not images
NOT_PER_IMAGE = ("fid", "fid_dinov2", "inception_score")
_KIND = {"NR": "per-image no-reference", "FR": "full-reference"}


@functools.lru_cache(maxsize=None)
def _modes() -> dict:
    """{metric name: 'NR' | 'FR'} of the installed pyiqa."""
    spec = importlib.util.find_spec("pyiqa")
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = os.path.join(folders[0], "default_model_configs.py") if folders else ""
    try:
        table_spec = importlib.util.spec_from_file_location("_pyiqa_model_configs", path)
        table = importlib.util.module_from_spec(table_spec)
        table_spec.loader.exec_module(table)
        return {k: v["metric_mode"] for k, v in table.DEFAULT_CONFIGS.items()}
    except Exception:  # noqa: BLE001 - another layout of pyiqa: ask pyiqa itself
        import pyiqa

        return {n: m for m in ("NR", "FR") for n in pyiqa.list_models(metric_mode=m)}


def names(family: str) -> list[str]:
    """The metric names ``family`` ('pyiqa' or 'pyiqa-fr') accepts, sorted."""
    mode = FAMILIES[family]
    return sorted(n for n, m in _modes().items()
                  if m == mode and not (mode == "NR" and n in NOT_PER_IMAGE))


def check_name(family: str, name: str) -> None:
    """Nothing when ``family:name`` is a metric pyiqa can build for that family; a one-line
    UsageError otherwise, suggesting the closest name in any family (and listing the
    family's names only when nothing is close)."""
    ok = names(family)
    if name in ok:
        return
    what = f"pyiqa has no {_KIND[FAMILIES[family]]} metric '{name}'"
    if FAMILIES[family] == "NR" and name in NOT_PER_IMAGE:
        what += " (it scores folders of images, not images)"
    others = [f for f in FAMILIES if f != family]
    hint = next((f"{f}:{name}" for f in others if name in names(f)), None)
    for f in (family, *others):
        close = None if hint else suggest(name, names(f))
        hint = hint or (f"{f}:{close}" if close else None)
    if hint:
        raise UsageError(f"{what}; did you mean '{hint}'?")
    raise UsageError(f"{what}; {family} metrics: {', '.join(ok)}")
