"""Options shared by `run` and `sweep`, and their translation into a resolved config."""
from __future__ import annotations

import argparse

from ..core.errors import UsageError

# CLI option -> dotted config key, for the single-valued run options.
RUN_OPTIONS = {
    "seed": "seed", "device": "device", "backbone": "model.backbone", "weights": "model.weights",
    "clusters": "division.clusters", "data_root": "data.root",
}


def protocol_options():
    """Every registered protocol's options: flag -> (Option, [protocol names])."""
    from ..engine.protocol import all_options
    from ..core.registry import PROTOCOLS

    return all_options(sorted(PROTOCOLS.items(), key=lambda kv: (kv[1].order, kv[0])))


def add_protocol_arguments(p: argparse.ArgumentParser, listed: bool = False) -> None:
    """One --flag per option any registered protocol declares (its help names the
    protocols it applies to). ``listed``: the type is left to the caller (sweep lists)."""
    for flag, (opt, names) in protocol_options().items():
        kind = None if listed or opt.kind == "list" or not callable(opt.kind) else opt.kind
        p.add_argument(f"--{flag}", type=kind, help=opt.help)


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
    p.add_argument("--weights", help="torchvision state-dict file for the backbone")
    p.add_argument("--clusters", type=int, help="number c of content clusters (default 2)")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set train.lr=3e-4")
    p.add_argument("--out", default="runs", help="folder of the run folders (default runs/)")


def resolve_run_config(args: argparse.Namespace) -> dict:
    """Resolved config of a `run` invocation: profile, options, --set (which wins)."""
    from ..core.config import resolve, set_key
    from ..data.registry import dataset_names
    from ..core.registry import METHODS, PROTOCOLS

    names = dataset_names()
    protocol_cls = PROTOCOLS.get(args.protocol)
    METHODS.get(args.method)
    overrides = {key: getattr(args, opt) for opt, key in RUN_OPTIONS.items()
                 if getattr(args, opt, None) is not None}
    cfg = resolve(args.profile, overrides, [], names)
    real = bool(cfg["data"]["root"])
    popts = {"name": args.protocol, **protocol_cls.defaults(real)}
    own = {o.flag for o in protocol_cls.options}
    for flag, (opt, _) in protocol_options().items():
        value = getattr(args, opt.dest, None)
        if value is None:
            continue
        if flag not in own:
            mine = ", ".join(f"--{o.flag}" for o in protocol_cls.options) or "none"
            raise UsageError(f"--{flag} does not apply to protocol '{args.protocol}' "
                             f"(its options: {mine})")
        popts[opt.key] = opt.convert(value)
    cfg["protocol"] = popts
    cfg["method"] = args.method
    for item in args.set:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        from ..core.config import parse_value

        set_key(cfg, key.strip(), parse_value(text.strip()), names)
    for n in _dataset_options(cfg):
        if n not in names:
            from ..core.errors import unknown_choice

            raise unknown_choice("dataset", n, names)
    return cfg


def _dataset_options(cfg: dict) -> list[str]:
    p = cfg["protocol"]
    out = [p["dataset"]] if p.get("dataset") else []
    for key in ("train", "targets"):
        out += list(p.get(key) or [])
    return out
