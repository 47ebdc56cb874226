"""The setting columns of the results table: the method settings a run recorded as worth a
column (declared ``Setting(..., column='words')``, bench/core/settings.py), at the values the
run effectively used. A record lists them in ``facts['setting_columns']`` (key -> the
column's name in words) with each value at the top of its facts; readers add one column per
key and show it under its words, knowing none of them by name.

A record written before the declaration (no ``setting_columns``) shows the method settings
its config holds that it copied to the top of its facts (what it recorded as columns then);
where the method pins a value (CIS\\C: one content cluster) that value is shown, as such
records copied the config's value, not the one the method used.
"""
from __future__ import annotations

from typing import Mapping

from ..core.display_text import clean

#: the results table's own columns (bench.app.results.COLUMNS); any other is a setting column
TABLE_COLUMNS = ("protocol", "protocol_version", "method", "method_display", "dataset", "target",
                 "fold", "backbone", "train_ratio", "profile", "seed", "split", "n",
                 "srocc", "plcc", "krcc", "plcc_logistic", "run_dir", "predictions", "kind",
                 "setting", "setting_label", "record", "config", "expected")
#: name of the results table's attribute holding {key: words} of its setting columns
ATTR = "setting_columns"


def record_columns(facts: Mapping, config: Mapping, reserved=(),
                   known: Mapping | None = None) -> dict[str, tuple[str, object]]:
    """key -> (column name in words, value) of one record's setting columns; keys in
    ``reserved`` (the table's own columns) are left out, text sanitised for display.
    ``known``: :func:`declared_columns`, when the caller has it (read once per table)."""
    declared = facts.get(ATTR)
    if isinstance(declared, Mapping):
        words = {k: w for k, w in declared.items() if isinstance(k, str)}
    else:
        given = config.get("method_settings") if isinstance(config, Mapping) else None
        known = declared_columns() if known is None else known
        words = {k: known.get(k, k) for k in (given or {}) if isinstance(k, str) and k in facts}
    # a value the method pins is what ran, whatever an older record copied from its config
    pinned = pinned_settings(config.get("method")) if isinstance(config, Mapping) else {}
    out = {}
    for key, word in words.items():
        name = clean(key, 60)
        if name and name not in reserved:
            value = pinned.get(key, facts.get(key))
            out[name] = (clean(word, 60) or name, clean(value, 200) if isinstance(value, str) else value)
    return out


def pinned_settings(method) -> dict:
    """The settings registered method ``method`` pins (``Method.fixed``, e.g. one content
    cluster for CIS\\C); {} for a method not installed here."""
    from ..core.registry import METHODS

    cls = dict(METHODS.items()).get(method) if isinstance(method, str) else None
    return dict(getattr(cls, "fixed", {}) or {})


def setting_columns(df, base=None) -> dict[str, str]:
    """{key: column name in words} of a table's setting columns, in order: those its
    ``attrs`` name, else (a slice that lost them, a table made by hand) every column not in
    ``base`` (default: the results table's own columns), named in the words a registered
    method declares for it, else by its key; {} for a table without any."""
    if df is None:
        return {}
    got = getattr(df, "attrs", {}).get(ATTR)
    if isinstance(got, Mapping):
        return {k: w for k, w in got.items() if k in df.columns}
    base = TABLE_COLUMNS if base is None else base
    extra = [k for k in df.columns if k not in base and not str(k).startswith("_")]
    known = declared_columns() if extra else {}
    return {k: known.get(k, k) for k in extra}


def declared_columns() -> dict[str, str]:
    """{key: words} of every setting a registered method declares with a column."""
    from ..core.registry import METHODS

    out: dict[str, str] = {}
    for _, cls in METHODS.items():
        for key, s in (getattr(cls, "settings", {}) or {}).items():
            if getattr(s, "column", ""):
                out.setdefault(key, s.column)
    return out


def default_columns(method: str, profile: str = "paper") -> dict:
    """{key: value} of the setting columns of registered method ``method`` at the values a
    run with no setting given uses (the declared default, or the value a variant pins);
    {} for a method no longer installed."""
    from ..core.registry import METHODS

    cls = dict(METHODS.items()).get(method)   # registered names only: no family is built
    if cls is None or not hasattr(cls, "effective_settings"):
        return {}
    hp = cls.effective_settings({"profile": profile, "method_settings": {}})
    return {k: hp.get(k) for k, s in cls.settings.items() if getattr(s, "column", "")}
