"""Declared config values: :class:`Setting` says a value's type, range or choices, its
default (per profile where profiles differ) and what it means.

The core sections' schema lives in ``bench/profiles.py`` (``CORE_SCHEMA``); every method
declares its own settings on its class (``Method.settings``), which the resolved config
holds under ``method_settings`` (``--set method.<key>=V``). :meth:`Setting.check` is the
one validation every value goes through before any data is touched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import UsageError

KINDS = ("int", "float", "bool", "str", "list", "map")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


@dataclass(frozen=True)
class Setting:
    """One config value's declaration.

    default: the value every profile gets unless ``per_profile`` names another;
    kind: int | float | bool | str | list (of ``item`` values, ``length`` long when set) |
        map (str -> ``item`` values: an open tree such as method.subset_batch);
    low / high: inclusive bounds of numbers; choices: allowed values besides the kind's
        (e.g. 'auto' for a boolean); nullable: None (JSON null) allowed; doc: one line.
    """

    default: Any = None
    kind: str = "float"
    doc: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    nullable: bool = False
    item: str | None = None
    length: int | None = None
    per_profile: Mapping[str, Any] = field(default_factory=dict)

    def default_for(self, profile: str) -> Any:
        """The default of ``profile`` (a fresh copy for lists and maps)."""
        import copy

        return copy.deepcopy(self.per_profile.get(profile, self.default))

    def allowed(self) -> str:
        """What this setting accepts, in words ('an integer >= 1', 'one of adam, sgd')."""
        if self.kind == "list":
            what = f"a list of {self.length or ''} {self.item}s".replace("  ", " ")
        elif self.kind == "map":
            what = f"a map of names to {self.item}s" + ("" if self.item == "str" else
                                                         f" (or one {self.item} for all)")
        else:
            what = {"int": "an integer", "float": "a number", "bool": "true or false",
                    "str": "a string"}[self.kind]
        if self.kind == "str" and any(isinstance(c, str) for c in self.choices):
            what = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.choices:
            what += " or " + ", ".join(json_text(c) for c in self.choices)
        if self.low is not None and self.high is not None:
            what += f" in [{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            what += f" >= {self.low:g}"
        elif self.high is not None:
            what += f" <= {self.high:g}"
        return what + (" or null" if self.nullable else "")

    def check(self, key: str, value: Any) -> Any:
        """``value`` when it fits this declaration; UsageError naming key, value and what is
        allowed otherwise."""
        if not self._fits(value):
            raise UsageError(f"{key}={json_text(value)} is not allowed: {key} must be {self.allowed()}")
        return value

    def _fits(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if any(type(value) is type(c) and value == c for c in self.choices):
            return True
        if self.kind == "str":  # choices that are strings close the set; others add to it
            return isinstance(value, str) and not any(isinstance(c, str) for c in self.choices)
        if self.kind == "list":
            return (isinstance(value, list) and (self.length is None or len(value) == self.length)
                    and all(_scalar_fits(self.item, v, self.low, self.high) for v in value))
        if self.kind == "map":  # or one value for every name
            if not isinstance(value, dict):
                return self.item != "str" and _scalar_fits(self.item, value, self.low, self.high)
            return all(
                isinstance(k, str) and _scalar_fits(self.item, v, self.low, self.high)
                for k, v in value.items())
        return _scalar_fits(self.kind, value, self.low, self.high)


def _scalar_fits(kind: str, value: Any, low, high) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    ok = _is_int(value) if kind == "int" else _is_number(value)
    return ok and (low is None or value >= low) and (high is None or value <= high)


def json_text(value: Any) -> str:
    """A value as the user would type it after ``--set key=``."""
    import json

    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def defaults(table: Mapping[str, Setting], profile: str) -> dict:
    """{key: default} of a settings table for ``profile``."""
    return {k: s.default_for(profile) for k, s in table.items()}
