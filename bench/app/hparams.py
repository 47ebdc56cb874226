"""Random hyperparameter search (issue 23; DomainBed's protocol): every method gets the
same number of draws from the search distributions declared beside its settings
(:attr:`bench.core.settings.Setting.search`): the core training values a method that trains
a network may want tuned (``CORE_SETTINGS``: lr, batch size, epochs, weight decay) and the
method's own settings. Draw 0 is the defaults; draw k > 0 is seeded by (method, dataset,
k) alone, so a sweep is reproducible, resumable in parts and the same for every seed of a
run. A value the user sets (``--set``) is never drawn. Each draw's values are ordinary
config values (in the run's config and identity), and ``hparams.draw`` records k.

Nothing here names a method or a method setting: the spaces come from the declarations.
"""
from __future__ import annotations

import hashlib
import numpy as np

from ..core.errors import UsageError
from ..core.profiles import CORE_SETTINGS
from ..core.registry import METHODS
from .spec import RunSpec, setting_text

DRAW_KEY = "hparams.draw"


def search_space(method: str) -> dict:
    """Dotted config key -> Setting of every searched value of ``method``: the core ones
    (when the method trains a network) and its own (``method.<name>``), sorted by key."""
    cls = METHODS.get(method)
    space = {k: s for k, s in CORE_SETTINGS.items() if s.search} if cls.trains_network else {}
    space.update({f"method.{k}": s for k, s in (cls.settings or {}).items() if s.search})
    return dict(sorted(space.items()))


def draw_seed(method: str, dataset: str, k: int) -> int:
    """The generator seed of draw ``k`` of ``method`` on ``dataset`` (a stable hash)."""
    blob = f"hparams|{method}|{dataset}|{int(k)}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")


def draw(method: str, dataset: str, profile: str, k: int, fixed=(), real: bool = False) -> dict:
    """Draw ``k``'s values, dotted key -> value ({} for k = 0: the defaults); keys in
    ``fixed`` (set by the user) are left out; the others drawn in key order."""
    if k < 0:
        raise UsageError(f"a search draw is >= 0, not {k}")
    if k == 0:
        return {}
    rng = np.random.default_rng(draw_seed(method, dataset, k))
    out = {}
    for key, setting in search_space(method).items():
        value = setting.draw(rng, profile, real)     # drawn even when fixed: same stream
        if key not in fixed:
            out[key] = value
    return out


def spec_dataset(spec: RunSpec) -> str:
    """The data a draw is seeded by: the protocol's dataset (resolved, so a default is
    named), else its training sets; '' for neither."""
    given = spec.options.get("dataset") or spec.options.get("train")
    if not given:
        protocol = spec.replace(settings={k: v for k, v in spec.settings.items()
                                          if k != DRAW_KEY}).config()["protocol"]
        given = protocol.get("dataset") or protocol.get("train") or ""
    return given if isinstance(given, str) else "+".join(str(d) for d in given)


def with_draws(specs: list[RunSpec], n: int) -> list[RunSpec]:
    """Each spec as ``n`` specs, draws 0..n-1 (values and ``hparams.draw`` in settings)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UsageError(f"--hparams must be an integer >= 1, not {n!r}")
    out = []
    for spec in specs:
        fixed = set(spec.settings)
        real = bool(spec.settings.get("data.root"))
        for k in range(n):
            values = draw(spec.method, spec_dataset(spec), spec.profile, k, fixed, real)
            out.append(spec.replace(settings={**spec.settings, **values, DRAW_KEY: k}))
    return out


def draw_lines(specs: list[RunSpec]) -> list[str]:
    """One line per (method, dataset, draw) of ``specs``: 'cis syn-kadid draw 3:
    train.lr=0.0012 method.beta=0.41 ...' (draw 0: 'defaults'), for --dry-run."""
    seen, lines = set(), []
    for spec in specs:
        k = spec.settings.get(DRAW_KEY)
        key = (spec.method, spec_dataset(spec), spec.profile, k)
        if k is None or key in seen:
            continue
        seen.add(key)
        space = search_space(spec.method)
        values = " ".join(f"{n}={setting_text(spec.settings[n])}" for n in space if n in spec.settings)
        lines.append(f"{spec.method} {spec_dataset(spec) or '-'} {spec.profile} draw {k}: "
                     f"{values if k else 'defaults'}")
    return lines


def searched_keys(method: str) -> set[str]:
    """Keys that vary between the draws of one search of ``method`` (its space and the
    draw index): a reader groups runs that differ only in these into one search."""
    try:
        return set(search_space(method)) | {DRAW_KEY}
    except Exception:  # noqa: BLE001 - a method no longer installed: only the draw index
        return {DRAW_KEY}

