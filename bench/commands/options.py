"""Options shared by `run` and `sweep`, and their translation into a
:class:`~bench.app.spec.RunSpec`."""
from __future__ import annotations

import argparse

from ..core.errors import UsageError

# CLI option -> dotted config key, for the single-valued run options that set a value.
RUN_OPTIONS = {
    "device": "device", "backbone": "model.backbone", "weights": "model.weights",
    "data_root": "data.root",
}


def dest(flag: str) -> str:
    """The argparse attribute of ``--flag``."""
    return flag.replace("-", "_")


def protocol_options() -> dict:
    """Every registered protocol's options: flag -> (key, Setting, [protocol names])."""
    from ..core.registry import PROTOCOLS
    from ..engine.protocol import protocol_flags

    return protocol_flags(sorted(PROTOCOLS.items(), key=lambda kv: (kv[1].order, kv[0])))


def method_options() -> dict:
    """The method settings that declare a flag: flag -> (key, Setting, [method names]);
    a method that pins the setting (``fixed``) is not named."""
    from ..core.registry import METHODS

    out: dict = {}
    for name, cls in METHODS.items():
        for key, s in (getattr(cls, "settings", {}) or {}).items():
            if s.flag and key not in (getattr(cls, "fixed", {}) or {}):
                out.setdefault(s.flag, (key, s, []))[2].append(name)
    return out


def add_protocol_arguments(p: argparse.ArgumentParser) -> None:
    """One --flag per option any registered protocol declares (its help names the
    protocols it applies to), and per method setting with a flag."""
    for flag, (_, s, _) in protocol_options().items():
        p.add_argument(f"--{flag}", help=s.doc)
    for flag, (_, s, names) in method_options().items():
        more = f"; methods {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"
        p.add_argument(f"--{flag}", help=f"{s.doc} (default {s.default}{more})")


def add_runs_argument(p: argparse.ArgumentParser, default: str | None = "runs",
                      help: str = "folder of the run folders (default runs/)") -> None:
    """``--runs DIR``, the folder of run folders, with ``--out`` kept as another spelling."""
    p.add_argument("--runs", dest="runs", default=default, metavar="DIR", help=help)
    p.add_argument("--out", dest="runs", help=argparse.SUPPRESS)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench run`."""
    from ..core.registry import PROTOCOLS

    p.add_argument("--protocol", default="lodo",
                   help=f"evaluation protocol: {', '.join(PROTOCOLS.names())} (default lodo)")
    p.add_argument("--method", default="cis",
                   help="training paradigm, e.g. erm, metaiqa, cis, cip (default cis; all of "
                        "them: python -m bench list)")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    add_protocol_arguments(p)
    p.add_argument("--folds", help="comma-separated fold names to run (default: all; the "
                                   "names: python -m bench list --folds DATASET)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="cpu | cuda | auto (default: cuda when present)")
    p.add_argument("--backbone", help="smallcnn | resnet18 | resnet34 | resnet50")
    p.add_argument("--weights", help="torchvision state-dict file for the backbone (also used "
                   "by a method's feature extractor of the same network); default: the torch "
                   "cache, $TORCH_HOME/hub/checkpoints")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set train.lr=3e-4")
    add_runs_argument(p)


def parse_sets(items) -> dict:
    """``--set KEY=VALUE`` items -> {key: value} (values parsed as JSON where they parse),
    in order; UsageError for an item without '='."""
    from ..core.config import parse_value

    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(text.strip())
    return out


def spec_from_args(args: argparse.Namespace, one_protocol: bool = True):
    """The RunSpec of a `run` invocation: protocol, method, profile, seed, the protocol's
    flags as options, the value flags and ``--set`` items (in that order, so ``--set``
    wins) as settings, ``--folds`` and ``--runs``. ``one_protocol``: a protocol flag the
    protocol does not declare is a UsageError here (a sweep over several protocols leaves
    it to :func:`bench.app.sweep.expand`)."""
    from ..app.spec import RunSpec
    from ..core.config import parse_value
    from ..core.registry import PROTOCOLS

    declared = PROTOCOLS.get(args.protocol).settings
    options = {}
    for flag, (key, first, _) in protocol_options().items():
        value = getattr(args, dest(flag), None)
        if value is None:
            continue
        mine = key in declared and declared[key].flag == flag
        if one_protocol and not mine:
            valid = ", ".join(f"--{s.flag}" for s in declared.values() if s.flag) or "none"
            raise UsageError(f"--{flag} does not apply to protocol '{args.protocol}' "
                             f"(its options: {valid})")
        options[key] = (declared[key] if mine else first).coerce(f"--{flag}", value)
    settings = {key: getattr(args, opt) for opt, key in RUN_OPTIONS.items()
                if getattr(args, opt, None) is not None}
    for flag, (key, _, _) in method_options().items():
        value = getattr(args, dest(flag), None)
        if value is not None:   # checked as method.<key> against the method's own declaration
            settings[f"method.{key}"] = parse_value(value) if isinstance(value, str) else value
    settings.update(parse_sets(getattr(args, "set", [])))
    folds = getattr(args, "folds", None)
    return RunSpec(protocol=args.protocol, method=args.method, profile=args.profile,
                   seed=args.seed, options=options, settings=settings,
                   folds=None if not folds else tuple(f.strip() for f in folds.split(",") if f.strip()),
                   out=args.runs)


def add_selection_argument(parser) -> None:
    """--selection: the model selection applied to a hyperparameter search's runs before
    they are summarised (bench/app/selection.py)."""
    parser.add_argument("--selection", metavar="LIST", default=None,
                        help="model selection over a search's draws (bench sweep --hparams): "
                             "train-val (held-out training images, train.holdout > 0), "
                             "type-val (the validation view, a held-out training type) or "
                             "oracle (the test fold: an upper bound, labelled so); "
                             "default: none, every run shown as it is")


def selected(results, text, log=None, many: bool = False):
    """``results`` after the --selection ``text`` (unchanged for None); several selections
    (comma-separated, when ``many``) are stacked, each row labelled with its selection."""
    import sys

    import pandas as pd

    from ..app.selection import parse_selection, select
    from ..core.errors import UsageError

    names = parse_selection(text)
    if not names:
        return results
    if len(names) > 1 and not many:
        raise UsageError(f"--selection takes one selection here, not {text}")
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    frames = [select(results, name, log) for name in names]
    out = pd.concat(frames) if len(frames) > 1 else frames[0]
    out.attrs.update(frames[0].attrs)
    return out
