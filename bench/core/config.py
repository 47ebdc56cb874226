"""Resolved run configuration: a profile's tree, then command-line overrides.

``--set key=value`` addresses any leaf by its dotted path (``train.lr=3e-4``); values are
parsed as JSON when they parse (numbers, true/false, null, lists) and kept as strings
otherwise. ``--set data.livec=PATH`` is shorthand for ``data.paths.livec=PATH``.
A key outside the tree is a usage error listing the valid keys, and every value is checked
against its declared :class:`bench.core.settings.Setting` (type, range, choices) as it is set.

The method's own settings (declared on its class, ``Method.settings``) live under
``cfg["method_settings"]`` (``cfg["method"]`` stays the method's registered name);
``--set method.<key>=V`` (or ``method_settings.<key>=V``) sets one, for any registered
method, entry-point plug-ins included. ``division.<key>`` is kept as another spelling of
``method.<key>`` for the division settings of the methods that declare them (``--clusters``).
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Iterable

from .errors import UsageError, unknown_choice
from .profiles import CORE_SETTINGS, PROFILES, profile_config
from .settings import Setting

# Keys that change how a run is executed or where its data lives, but not what it
# computes: left out of the hash, so a run started on one machine is recognised on another.
# data.root and data.paths may stay out only because every fold's config carries the
# fingerprint of the records it trains and tests on (bench.engine.session.fold_config).
# engine.amp is NOT here: the autocast dtype changes the numbers a run produces.
NON_IDENTITY_KEYS = ("device", "save_model", "data.root", "data.paths", "train.checkpoint",
                     "data.placement", "engine.compile", "engine.channels_last", "engine.fused",
                     "engine.threads")
# Sub-trees whose keys are free-form (dataset names).
OPEN_TREES = ("data.paths",)


def parse_value(text: str) -> Any:
    """``'3e-4'`` -> 3e-4, ``'[1,2]'`` -> [1, 2], ``'true'`` -> True, ``'abc'`` -> 'abc'."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    """All dotted leaf paths of ``tree``."""
    keys = []
    for k, v in tree.items():
        if prefix == "" and k == METHOD_SECTION and isinstance(v, dict):
            keys += [f"method.{m}" for m in v]
            continue
        path = f"{prefix}{k}"
        if isinstance(v, dict) and path not in OPEN_TREES:
            keys += leaf_keys(v, path + ".")
        else:
            keys.append(path)
    return keys


METHOD_SECTION = "method_settings"
# another spelling of a method setting: section -> prefix of the method's key
METHOD_ALIASES = {"method": "", METHOD_SECTION: "", "division": ""}


def method_table(name: str) -> dict[str, Setting]:
    """The settings method ``name`` declares (UsageError naming the choices if unknown)."""
    from .registry import METHODS

    return dict(getattr(METHODS.get(name), "settings", {}) or {})


def method_fixed(name: str) -> dict:
    """The settings method ``name`` pins (its class's ``fixed``: an ablation's values)."""
    from .registry import METHODS

    return dict(getattr(METHODS.get(name), "fixed", {}) or {})


def with_method_settings(cfg: dict) -> dict:
    """``cfg`` (in place, and returned) with ``method_settings`` filled in where a key is
    absent: the method's fixed value, else its declared default for ``cfg['profile']``;
    keys the method does not declare, and values other than a fixed one, are refused."""
    name = cfg.get("method")
    if not isinstance(name, str):
        return cfg
    table, fixed = method_table(name), method_fixed(name)
    have = cfg.setdefault(METHOD_SECTION, {})
    for key in have:
        if key not in table:
            raise _unknown_method_key(name, key, table)
        _check_fixed(name, key, have[key], fixed)
    for key, setting in table.items():
        if key not in have:
            have[key] = fixed[key] if key in fixed else \
                setting.default_for(str(cfg.get("profile", "quick")))
    return cfg


def _check_fixed(name: str, key: str, value: Any, fixed: dict) -> None:
    """UsageError when ``value`` of a setting method ``name`` pins is another value."""
    if key in fixed and value != fixed[key]:
        from .settings import json_text

        raise UsageError(f"method.{key}={json_text(value)} is not allowed: method '{name}' "
                         f"fixes {key} at {json_text(fixed[key])}; leave it out")


def _unknown_method_key(name: str, key: str, table: dict) -> UsageError:
    valid = ", ".join(f"method.{k}" for k in sorted(table)) or "none"
    return UsageError(f"unknown --set key 'method.{key}': method '{name}' declares no setting "
                      f"'{key}'; its settings: {valid}")


def _set_method_key(cfg: dict, key: str, entry: str | None, value: Any) -> None:
    """Set the method's setting ``key`` (or, for a map setting, its ``entry``)."""
    name = cfg.get("method")
    if not isinstance(name, str):  # set before the method is known: checked once it is
        cfg.setdefault(METHOD_SECTION, {})[key] = value if entry is None else {entry: value}
        return
    with_method_settings(cfg)
    table = method_table(name)
    if key not in table:
        raise _unknown_method_key(name, key, table)
    if entry is not None:
        if table[key].kind != "map":
            raise UsageError(f"method.{key} is {table[key].allowed()}; it has no entry '{entry}'")
        dotted = f"method.{key}.{entry}"
        current = cfg[METHOD_SECTION][key]
        value = table[key].check(dotted, {**(current if isinstance(current, dict) else {}),
                                          entry: value})
        cfg[METHOD_SECTION][key] = value
        return
    cfg[METHOD_SECTION][key] = table[key].check(f"method.{key}", value)
    _check_fixed(name, key, cfg[METHOD_SECTION][key], method_fixed(name))


def schema_of(dotted: str) -> Setting | None:
    """The declared Setting of a core key, or None (open-tree entries are checked by their
    tree's declaration)."""
    return CORE_SETTINGS.get(dotted)


def protocol_table(name) -> dict[str, Setting]:
    """The settings (options) the registered protocol ``name`` declares; none when the
    name is not a registered protocol's."""
    from .registry import PROTOCOLS

    cls = PROTOCOLS.get(name, None) if isinstance(name, str) else None
    return dict(getattr(cls, "settings", {}) or {})


def _set_protocol_key(cfg: dict, key: str, value: Any) -> None:
    """Set the protocol option ``key`` after its declaration's check."""
    tree = cfg.get("protocol")
    table = protocol_table(tree.get("name") if isinstance(tree, dict) else None)
    if not isinstance(tree, dict) or key not in tree or key == "name":
        valid = [f"protocol.{k}" for k in (tree or {}) if k != "name"]
        raise unknown_choice("--set key", f"protocol.{key}", valid or ["(none)"])
    tree[key] = table[key].coerce(f"protocol.{key}", value) if key in table else value


def _valid_keys(cfg: dict) -> list[str]:
    """Every settable dotted key of ``cfg``, the method's settings included."""
    full = copy.deepcopy(cfg)
    if isinstance(full.get("method"), str):
        full[METHOD_SECTION] = {k: None for k in method_table(full["method"])}
    return leaf_keys(full)


def set_key(cfg: dict, dotted: str, value: Any, dataset_names: Iterable[str] = ()) -> None:
    """Set ``cfg[dotted]`` in place after checking ``value`` against the key's declaration;
    UsageError if the key is not in the tree or the value is not allowed."""
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[0] in METHOD_ALIASES:
        return _set_method_key(cfg, parts[1], ".".join(parts[2:]) or None, value)
    if len(parts) == 2 and parts[0] == "protocol":
        return _set_protocol_key(cfg, parts[1], value)
    if len(parts) == 2 and parts[0] == "data" and parts[1] in set(dataset_names):
        parts = ["data", "paths", parts[1]]
    node = cfg
    for i, part in enumerate(parts[:-1]):
        sub = ".".join(parts[: i + 1])
        if not isinstance(node, dict) or part not in node:
            raise unknown_choice("--set key", dotted, _valid_keys(cfg))
        node = node[part]
        if sub in OPEN_TREES:
            tree = {**node, ".".join(parts[i + 1:]): value}
            if schema_of(sub):
                schema_of(sub).check(dotted, tree)
            node[".".join(parts[i + 1:])] = value
            return
    last = parts[-1]
    if not isinstance(node, dict) or last not in node or (
            isinstance(node[last], dict) and ".".join(parts) not in OPEN_TREES):
        raise unknown_choice("--set key", dotted, _valid_keys(cfg))
    rule = schema_of(".".join(parts))
    node[last] = rule.check(dotted, value) if rule else value


def validate(cfg: dict) -> dict:
    """Check every core value, the method's settings and the protocol's options of a
    resolved config (``cfg``, returned); UsageError naming the first bad key, its value and
    what is allowed."""
    for dotted, rule in CORE_SETTINGS.items():
        node: Any = cfg
        for part in dotted.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        if node is not _MISSING:
            rule.check(dotted, node)
    if isinstance(cfg.get("method"), str):
        with_method_settings(cfg)
        for key, rule in method_table(cfg["method"]).items():
            rule.check(f"method.{key}", cfg[METHOD_SECTION][key])
    tree = cfg.get("protocol")
    if isinstance(tree, dict):
        for key, rule in protocol_table(tree.get("name")).items():
            if key in tree:
                rule.check(f"protocol.{key}", tree[key])
    data = cfg.get("data", {})
    if isinstance(data, dict) and data.get("crop", 0) > data.get("size", 1 << 30):
        raise UsageError(f"data.crop={data['crop']} is larger than data.size={data['size']}; "
                         "the crop must fit in the stored square")
    return cfg


_MISSING = object()


def resolve(profile: str, overrides: dict[str, Any] | None = None,
            sets: Iterable[str] = (), dataset_names: Iterable[str] = (),
            method: str | None = None) -> dict:
    """The full config: profile tree, the method's declared settings when ``method`` is
    given, then ``overrides`` (dotted keys from options such as --seed), then ``--set``
    strings ``key=value`` (these win). Every value is checked as it is set."""
    if profile not in PROFILES:
        raise unknown_choice("profile", profile, PROFILES)
    cfg = profile_config(profile)
    if method is not None:
        cfg["method"] = method
        with_method_settings(cfg)
    names = list(dataset_names)
    for key, value in (overrides or {}).items():
        set_key(cfg, key, value, names)
    for item in sets:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        set_key(cfg, key.strip(), parse_value(text.strip()), names)
    return cfg


def get(cfg: dict, dotted: str, default: Any = None) -> Any:
    """Read a dotted key from a config tree, ``default`` when absent."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def identity(cfg: dict) -> dict:
    """The part of ``cfg`` that defines a run's result (what the run hash covers)."""
    out = copy.deepcopy(cfg)
    for key in NON_IDENTITY_KEYS:
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def config_hash(cfg: dict, length: int = 12) -> str:
    """Stable short hash of a run's identity (sha256 of canonical JSON), hex."""
    blob = json.dumps(identity(cfg), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def dumps(cfg: dict) -> str:
    """Pretty JSON of a config, for printing at the start of a run."""
    return json.dumps(cfg, indent=2, sort_keys=True, default=str)
