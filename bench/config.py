"""Resolved run configuration: a profile's tree, then command-line overrides.

``--set key=value`` addresses any leaf by its dotted path (``train.lr=3e-4``); values are
parsed as JSON when they parse (numbers, true/false, null, lists) and kept as strings
otherwise. ``--set data.livec=PATH`` is shorthand for ``data.paths.livec=PATH``.
A key outside the tree is a usage error listing the valid keys.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Iterable

from .errors import UsageError, unknown_choice
from .profiles import PROFILES, profile_config

# Keys that change how a run is executed or where its data lives, but not what it
# computes: left out of the hash, so a run started on one machine is recognised on another.
# engine.amp is NOT here: the autocast dtype changes the numbers a run produces.
NON_IDENTITY_KEYS = ("device", "save_model", "data.root", "data.paths", "train.checkpoint",
                     "data.placement", "engine.compile", "engine.channels_last", "engine.fused",
                     "engine.threads")
# Sub-trees whose keys are free-form (dataset names).
OPEN_TREES = ("data.paths", "train.subset_batch")


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
        path = f"{prefix}{k}"
        if isinstance(v, dict) and path not in OPEN_TREES:
            keys += leaf_keys(v, path + ".")
        else:
            keys.append(path)
    return keys


def set_key(cfg: dict, dotted: str, value: Any, dataset_names: Iterable[str] = ()) -> None:
    """Set ``cfg[dotted]`` in place; UsageError if the key is not in the tree."""
    parts = dotted.split(".")
    if len(parts) == 2 and parts[0] == "data" and parts[1] in set(dataset_names):
        parts = ["data", "paths", parts[1]]
    node = cfg
    for i, part in enumerate(parts[:-1]):
        sub = ".".join(parts[: i + 1])
        if not isinstance(node, dict) or part not in node:
            raise unknown_choice("--set key", dotted, leaf_keys(cfg))
        node = node[part]
        if sub in OPEN_TREES:
            node[".".join(parts[i + 1:])] = value
            return
    last = parts[-1]
    if not isinstance(node, dict) or last not in node or (
            isinstance(node[last], dict) and ".".join(parts) not in OPEN_TREES):
        raise unknown_choice("--set key", dotted, leaf_keys(cfg))
    node[last] = value


def resolve(profile: str, overrides: dict[str, Any] | None = None,
            sets: Iterable[str] = (), dataset_names: Iterable[str] = ()) -> dict:
    """The full config: profile tree, then ``overrides`` (dotted keys from options such as
    --seed), then ``--set`` strings ``key=value`` (these win)."""
    if profile not in PROFILES:
        raise unknown_choice("profile", profile, PROFILES)
    cfg = profile_config(profile)
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
