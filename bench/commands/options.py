"""Options shared by `run` and `sweep`, and their translation into a resolved config."""
from __future__ import annotations

import argparse

from ..errors import UsageError

# CLI option -> (dotted config key, protocol option?) for the single-valued run options.
RUN_OPTIONS = {
    "seed": "seed", "device": "device", "backbone": "model.backbone", "weights": "model.weights",
    "clusters": "division.clusters", "data_root": "data.root",
}
PROTOCOL_OPTIONS = {"dataset": "dataset", "train": "train", "targets": "targets",
                    "train_ratio": "train_ratio", "splits": "splits"}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench run`."""
    p.add_argument("--protocol", default="lodo", help="evaluation protocol (default lodo)")
    p.add_argument("--method", default="cis", help="training paradigm (default cis)")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    p.add_argument("--dataset", help="dataset of single-dataset protocols (lodo: default syn-kadid)")
    p.add_argument("--train", help="comma-separated training sets (cross/finetune)")
    p.add_argument("--targets", help="comma-separated test sets (cross/finetune)")
    p.add_argument("--train-ratio", type=float, help="finetune: share t of the target that trains")
    p.add_argument("--splits", type=int, help="finetune: number of seeded splits")
    p.add_argument("--folds", help="comma-separated fold names to run (default: all)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="cpu | cuda | auto (default: cuda when present)")
    p.add_argument("--backbone", help="smallcnn | resnet18 | resnet34 | resnet50")
    p.add_argument("--weights", help="torchvision state-dict file for the backbone")
    p.add_argument("--clusters", type=int, help="number c of content clusters (default 2)")
    p.add_argument("--data-root", help="folder holding the dataset releases (default: synthetic suite)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set train.lr=3e-4")
    p.add_argument("--out", default="runs", help="folder of the run folders (default runs/)")


def _split_list(text):
    return [x.strip() for x in text.split(",") if x.strip()] if isinstance(text, str) else text


def resolve_run_config(args: argparse.Namespace) -> dict:
    """Resolved config of a `run` invocation: profile, options, --set (which wins)."""
    from ..config import resolve, set_key
    from ..data.registry import dataset_names
    from ..registry import METHODS, PROTOCOLS

    names = dataset_names()
    protocol_cls = PROTOCOLS.get(args.protocol)
    METHODS.get(args.method)
    overrides = {key: getattr(args, opt) for opt, key in RUN_OPTIONS.items()
                 if getattr(args, opt, None) is not None}
    cfg = resolve(args.profile, overrides, [], names)
    real = bool(cfg["data"]["root"])
    popts = {"name": args.protocol, **protocol_cls.defaults(real)}
    for opt, key in PROTOCOL_OPTIONS.items():
        value = getattr(args, opt, None)
        if value is None:
            continue
        if key not in popts:
            raise UsageError(f"--{opt.replace('_', '-')} does not apply to protocol "
                             f"'{args.protocol}' (its options: {', '.join(sorted(popts)) or 'none'})")
        popts[key] = _split_list(value) if isinstance(popts[key], list) else value
    cfg["protocol"] = popts
    cfg["method"] = args.method
    for item in args.set:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        from ..config import parse_value

        set_key(cfg, key.strip(), parse_value(text.strip()), names)
    for n in _dataset_options(cfg):
        if n not in names:
            from ..errors import unknown_choice

            raise unknown_choice("dataset", n, names)
    return cfg


def _dataset_options(cfg: dict) -> list[str]:
    p = cfg["protocol"]
    out = [p["dataset"]] if p.get("dataset") else []
    for key in ("train", "targets"):
        out += list(p.get(key) or [])
    return out
