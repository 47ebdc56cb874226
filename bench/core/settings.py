"""Declared config values: :class:`Setting` says a value's type, range or choices, its
default (per profile where profiles differ, for real data where that differs), its
command-line flag if it has one, and what it means. It is the one way a value is declared:

* the core sections (``bench/core/profiles.py``, ``CORE_SETTINGS``);
* a method's own settings (``Method.settings``, held under ``method_settings``,
  ``--set method.<key>=V``; a setting with a ``flag`` is also ``run --<flag>``);
* a protocol's options (``Protocol.settings``, held under ``protocol``, each with its
  ``--<flag>``).

:meth:`Setting.check` is the one validation every value goes through, before any data is
touched; :meth:`Setting.parse` reads a value from command-line text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import UsageError

KINDS = ("int", "float", "bool", "str", "list", "map")
_UNSET = object()   # ``real`` not given: real data takes ``default`` too


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
    low / high: bounds of numbers, inclusive unless ``exclusive`` names them ('low',
        'high' or 'both'); choices: allowed values besides the kind's (e.g. 'auto' for a
        boolean); nullable: None (JSON null) allowed; doc: one line;
    flag: the command-line option that sets it (``--<flag>``), '' for none;
    real: the default when real datasets are given (``--data-root``), where it differs;
    names: 'dataset' when the values name registered datasets (checked as such);
    column: for a method's setting, the name in words of a results column that shows it
        ('content clusters'): a run records the value it effectively used at the top of its
        facts, and readers show it as a column under that name ('' for none);
    search: the value's search distribution for a random hyperparameter search
        (``bench sweep --hparams N``, :meth:`draw`), () when it is not searched:
        ('log-uniform', low, high), ('uniform', low, high) (ints rounded), ('choice',
        (v1, v2, ...)), ('scale', (f1, f2, ...)): the profile's default times one of the
        factors (ints rounded, at least 1), or ('log-scale', low, high): the default times
        a log-uniform factor. Checked when declared.
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
    exclusive: str = ""
    flag: str = ""
    real: Any = _UNSET
    names: str = ""
    column: str = ""
    search: tuple = ()

    def __post_init__(self):
        if self.search:
            _check_search(self)

    def draw(self, rng, profile: str, real: bool = False) -> Any:
        """One value of :attr:`search` drawn with ``rng`` (a numpy Generator), checked;
        ValueError when the setting declares no search."""
        if not self.search:
            raise ValueError("this setting declares no search distribution")
        kind, *args = self.search
        if kind == "choice":
            value = args[0][int(rng.integers(len(args[0])))]
        elif kind == "scale":
            factor = args[0][int(rng.integers(len(args[0])))]
            value = self.default_for(profile, real) * factor
        elif kind == "log-scale":
            lo, hi = math.log(float(args[0])), math.log(float(args[1]))
            value = self.default_for(profile, real) * math.exp(rng.uniform(lo, hi))
        else:
            lo, hi = float(args[0]), float(args[1])
            value = (math.exp(rng.uniform(math.log(lo), math.log(hi))) if kind == "log-uniform"
                     else rng.uniform(lo, hi))
        if self.kind == "int" and isinstance(value, float):
            value = max(1, int(round(value)))
        elif self.kind == "float" and isinstance(value, (int, float)) and value is not None:
            value = float(f"{float(value):.4g}")   # readable in folder listings and tables
        return self.check("search draw", value)

    def default_for(self, profile: str, real: bool = False) -> Any:
        """The default of ``profile`` (of real data when ``real`` and the setting has one),
        a fresh copy for lists and maps."""
        import copy

        if real and self.real is not _UNSET:
            return copy.deepcopy(self.real)
        return copy.deepcopy(self.per_profile.get(profile, self.default))

    def parse(self, text: str, where: str = "") -> Any:
        """The value of command-line ``text`` ('a,b' for a list, true/false/yes/no/1/0 for
        a boolean, numbers as numbers), checked; UsageError naming ``where`` (the flag),
        the text and what is allowed otherwise."""
        where = where or (f"--{self.flag}" if self.flag else "value")
        value = _parse_as(self.kind, text, self.item)
        if self.choices and text in [str(c) for c in self.choices if isinstance(c, str)]:
            value = text
        try:
            return self.check(where, value)
        except UsageError:
            sep = " " if where.startswith("--") else "="
            raise UsageError(f"{where}{sep}{text} is not allowed: {where} must be "
                             f"{self.allowed()}") from None

    def coerce(self, where: str, value: Any) -> Any:
        """``value`` checked, command-line text parsed first for a setting that is not a
        string (so the command line and Python callers give the same value)."""
        if isinstance(value, str) and self.kind != "str":
            return self.parse(value, where)
        return self.check(where, value)

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
        lo, hi = self.exclusive in ("low", "both"), self.exclusive in ("high", "both")
        if self.low is not None and self.high is not None:
            what += f" in {'(' if lo else '['}{self.low:g}, {self.high:g}{')' if hi else ']'}"
        elif self.low is not None:
            what += f" {'>' if lo else '>='} {self.low:g}"
        elif self.high is not None:
            what += f" {'<' if hi else '<='} {self.high:g}"
        return what + (" or null" if self.nullable else "")

    def check(self, key: str, value: Any) -> Any:
        """``value`` when it fits this declaration (one item given for a list becomes a list
        of one); UsageError naming key, value and what is allowed otherwise."""
        if self.kind == "list" and not isinstance(value, list) and value is not None \
                and _scalar_fits(self.item, value, self.low, self.high, self.exclusive):
            value = [value]
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
        fits = lambda kind, v: _scalar_fits(kind, v, self.low, self.high, self.exclusive)  # noqa: E731
        if self.kind == "list":
            return (isinstance(value, list) and (self.length is None or len(value) == self.length)
                    and all(fits(self.item, v) for v in value))
        if self.kind == "map":  # or one value for every name
            if not isinstance(value, dict):
                return self.item != "str" and fits(self.item, value)
            return all(isinstance(k, str) and fits(self.item, v) for k, v in value.items())
        return fits(self.kind, value)


SEARCH_KINDS = ("log-uniform", "uniform", "choice", "scale", "log-scale")


def _check_search(s: "Setting") -> None:
    """ValueError unless ``s.search`` is a well-formed distribution whose values fit ``s``."""
    kind, *args = s.search
    if kind not in SEARCH_KINDS:
        raise ValueError(f"search kind {kind!r} is not one of {', '.join(SEARCH_KINDS)}")
    if kind in ("choice", "scale"):
        if len(args) != 1 or not isinstance(args[0], tuple) or not args[0]:
            raise ValueError(f"a {kind} search takes one non-empty tuple of values")
        if kind == "choice":
            for v in args[0]:
                s.check("search choice", v)
        elif s.kind not in ("int", "float"):
            raise ValueError("a scale search needs a number setting")
        return
    if len(args) != 2 or not all(_is_number(a) for a in args) or not args[0] < args[1]:
        raise ValueError(f"a {kind} search takes (low, high) with low < high")
    if kind in ("log-uniform", "log-scale") and args[0] <= 0:
        raise ValueError(f"a {kind} search needs low > 0")
    if s.kind not in ("int", "float"):
        raise ValueError(f"a {kind} search needs a number setting")


def _scalar_fits(kind: str, value: Any, low, high, exclusive: str = "") -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if not (_is_int(value) if kind == "int" else _is_number(value)):
        return False
    lo_ok = low is None or (value > low if exclusive in ("low", "both") else value >= low)
    hi_ok = high is None or (value < high if exclusive in ("high", "both") else value <= high)
    return lo_ok and hi_ok


BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_as(kind: str, text: str, item: str | None = None) -> Any:
    """Command-line text as a value of ``kind`` (the text itself when it does not parse,
    for check() to name)."""
    text = str(text).strip()
    if kind == "list":
        return [_parse_as(item or "str", x) for x in text.strip("[] ").split(",") if x.strip()]
    if kind == "bool":
        return BOOLEAN_TEXT.get(text.lower(), text)
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            return text
    return text


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
