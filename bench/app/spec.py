"""A run as data: :class:`RunSpec` says which protocol and method run, with which options,
settings, seed and profile, which folds, and where the run folders go. ``python -m bench
run`` parses its command line into one, ``sweep`` expands one into many, the launchers and
the fold workers execute them, and a Python caller builds one directly::

    from bench import RunSpec, run
    records = run(RunSpec(protocol="lodo", method="erm", profile="smoke", folds=("GB",)))

:meth:`RunSpec.config` resolves a spec into the run's config, checking every value as it
is set (a bad one is a one-line UsageError). :meth:`RunSpec.argv` is the `run` command line
of a spec, used only for the shell of a child process or a remote job.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.config import parse_value, resolve, set_key
from ..core.errors import UsageError, unknown_choice
from ..core.registry import METHODS, PROTOCOLS
from ..core.settings import json_text


@dataclass(frozen=True)
class RunSpec:
    """One `run`: what it computes and where it writes.

    protocol, method, profile: registered names (``python -m bench list``);
    seed: the run's seed (None: the profile's, 0);
    options: the protocol's options by key (``{"dataset": "syn-kadid"}``; the protocol's
        defaults for the others), values as the config holds them (a list for a list);
    settings: dotted config keys and their values (``{"train.lr": 3e-4,
        "method.clusters": 3, "data.root": "/data"}``), set in order, after the profile
        and the seed; ``protocol.<key>`` entries are set after the protocol's options;
    folds: the names of the folds to run (None: every fold);
    out: the folder of the run folders.
    """

    protocol: str = "lodo"
    method: str = "cis"
    profile: str = "quick"
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    folds: tuple[str, ...] | None = None
    out: str = "runs"

    def __post_init__(self):
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "settings", dict(self.settings))
        if self.folds is not None:
            object.__setattr__(self, "folds", tuple(self.folds))
        object.__setattr__(self, "out", str(self.out))

    def __hash__(self) -> int:
        return hash(self.key())

    def replace(self, **changes) -> RunSpec:
        """A copy with ``changes`` (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """Canonical JSON of the spec (equal specs, equal keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    def config(self) -> dict:
        """The resolved config of this run (before a fold is added): the profile's tree
        with the method's declared settings, the seed, the settings, the protocol's
        defaults and options. UsageError naming the first bad name, key or value."""
        protocol_cls = PROTOCOLS.get(self.protocol)
        METHODS.get(self.method)
        from ..data.registry import dataset_names

        names = dataset_names()
        cfg = resolve(self.profile, {} if self.seed is None else {"seed": self.seed},
                      dataset_names=names, method=self.method)
        late = {k: v for k, v in self.settings.items() if k.startswith("protocol.")}
        for key, value in self.settings.items():
            if key not in late:
                set_key(cfg, key, value, names)
        cfg["protocol"] = protocol_cls.resolve_options(self.protocol, self.options,
                                                       bool(cfg["data"]["root"]))
        for key, value in late.items():
            set_key(cfg, key, value, names)
        protocol_cls.check_options(cfg["protocol"])   # e.g. a target that is a training set
        for name in protocol_cls.dataset_names(cfg["protocol"]):
            if name not in names:
                raise unknown_choice("dataset", name, names)
        return cfg

    def argv(self) -> list[str]:
        """The arguments of ``python -m bench run`` that run this spec (for a child
        process's or a remote job's shell); ``from_argv(spec.argv()) == spec``."""
        argv = ["--protocol", self.protocol, "--method", self.method, "--profile", self.profile]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        declared = PROTOCOLS.get(self.protocol).settings
        for key, value in self.options.items():
            if key not in declared or not declared[key].flag:
                raise UsageError(f"protocol '{self.protocol}' has no option '{key}'")
            argv += [f"--{declared[key].flag}", option_text(value)]
        for key, value in self.settings.items():
            argv += ["--set", f"{key}={setting_text(value)}"]
        if self.folds is not None:
            argv += ["--folds", ",".join(self.folds)]
        return argv + ["--runs", self.out]


def option_text(value: Any) -> str:
    """A protocol option's value as its command-line flag takes it ('a,b' for a list)."""
    if isinstance(value, (list, tuple)):
        return ",".join(option_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setting_text(value: Any) -> str:
    """A value as ``--set key=...`` takes it back unchanged (JSON where plain text would
    parse as something else, e.g. the string '1')."""
    text = json_text(value)
    return text if parse_value(text) == value and type(parse_value(text)) is type(value) \
        else json.dumps(value)


def with_absolute_out(spec: RunSpec) -> RunSpec:
    """``spec`` with ``out`` made absolute (for a process started elsewhere)."""
    return spec.replace(out=str(Path(spec.out).expanduser().resolve()))

