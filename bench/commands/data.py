"""`python -m bench data list|check|card`: what data is available, is it intact, and does
each distortion type carry a quality signal."""
from __future__ import annotations

import sys

from .options import print_json

NAME = "data"
HELP = "list the available datasets (real and synthetic) or check releases on disk"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="{list,check,card}")
    for name, text in (("list", "list datasets and their counts (generates the synthetic suite once)"),
                       ("check", "count and verify every dataset found, naming damaged files"),
                       ("card", "print a dataset's data card: per type level-vs-MOS correlation, ties, "
                                "spread; oracle SROCC; references in colour")):
        q = sub.add_parser(name, help=text, description=text)
        if name == "card":
            q.add_argument("name", help="dataset name, e.g. syn-kadid or kadid10k (with --data-root)")
        q.add_argument("--json", action="store_true",
                       help=f"print the {name if name != 'card' else 'data card'} as one JSON "
                            "object on stdout (logs go to stderr)")
        q.add_argument("--data-root", help="folder holding the dataset releases")
        q.add_argument("--set", action="append", default=[], metavar="data.NAME=PATH",
                       help="give one release folder directly, e.g. --set data.livec=/d/ChallengeDB_release")
        q.add_argument("--seed", type=int, default=0, help="seed of the synthetic suite (default 0)")
    p.set_defaults(data_command=None)


def data_paths(sets: list[str]) -> dict:
    """{dataset: folder} from ``--set data.NAME=PATH`` items."""
    from ..core.errors import UsageError

    out = {}
    for item in sets:
        key, _, value = item.partition("=")
        if not key.startswith("data.") or not value:
            raise UsageError(f"--set expects data.NAME=PATH here, got '{item}'")
        out[key[5:]] = value
    return out


def _real_folders(args) -> dict:
    """{dataset name: folder} for the releases found under --data-root or given by --set."""
    from pathlib import Path

    from ..data.registry import DATASETS, dataset_names, find_release, get_spec

    paths = data_paths(args.set)
    found = {}
    for name in dataset_names():
        spec = get_spec(name)
        if spec.synthetic or name == "metainfo" and name not in paths:
            continue
        if name in paths:
            found[name] = Path(paths[name])
        elif args.data_root:
            folder = find_release(spec, Path(args.data_root))
            if folder is not None:
                found[name] = folder
    unknown = set(paths) - set(DATASETS)
    if unknown:
        from ..core.errors import unknown_choice

        raise unknown_choice("dataset", sorted(unknown)[0], DATASETS)
    return found


def _real_counts(args) -> dict:
    """Per real dataset: {'folder', 'images'} when found and readable, {'folder',
    'error'} when found but unreadable, {'found': False, 'folders': names looked for}
    when --data-root was given and it is not there."""
    from ..data.registry import dataset_names, get_spec

    real = _real_folders(args)
    out = {}
    for name in dataset_names():
        spec = get_spec(name)
        if spec.synthetic or name == "metainfo":
            continue
        if name in real:
            try:
                out[name] = {"folder": str(real[name]), "images": len(spec.load(real[name]))}
            except Exception as exc:  # a damaged release is reported, not fatal to the list
                out[name] = {"folder": str(real[name]), "error": str(exc)}
        elif args.data_root:
            out[name] = {"found": False, "folders": [name, *spec.aliases]}
    return out


def _list(args) -> int:
    from ..data.registry import get_spec
    from ..data.synthetic.domains import describe_domain_sets
    from ..data.synthetic.suite import ensure_suite, read_manifest

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    folder = ensure_suite(args.seed, log=log)
    manifest = read_manifest(args.seed)
    real = _real_counts(args)
    if args.json:
        sets = {name: {**info, "description": get_spec(name).description}
                for name, info in manifest["sets"].items()}
        print_json({"suite": {"seed": args.seed, "version": manifest["suite_version"],
                              "folder": str(folder), "sets": sets},
                    "cross_domain": describe_domain_sets(args.seed), "real": real})
        return 0
    print(f"synthetic suite (seed {args.seed}, version {manifest['suite_version']}): {folder}")
    for name, info in manifest["sets"].items():
        spec = get_spec(name)
        agree = ", ".join(f"{k} {v:.3f}" for k, v in info["agreement_srocc"].items())
        print(f"  {name:<10} {info['images']:>5} images, {info['refs']:>3} refs, {info['types']:>2} types"
              f"  {spec.description}  [pseudo-MOS SROCC vs {agree}]")
    print("cross-domain synthetic sets (generated on first use):")
    print("\n".join(describe_domain_sets(args.seed)))
    print("real releases:" + ("" if real or args.data_root else
                              " none (give --data-root DIR to look for them)"))
    for name, r in real.items():
        if "images" in r:
            print(f"  {name:<10} {r['images']:>5} images  {r['folder']}")
        elif "error" in r:
            print(f"  {name:<10} unreadable: {r['error']}")
        else:
            print(f"  {name:<10} not found (folder names: {', '.join(r['folders'])})")
    return 0


def _check(args) -> int:
    from ..data.check import check_dataset
    from ..data.registry import get_spec

    real = _real_folders(args)
    if not real:
        why = "no dataset release found" + (f" under {args.data_root}" if args.data_root else
                                            "; give --data-root DIR or --set data.NAME=PATH")
        if args.json:
            print(why, file=sys.stderr)
            print_json({"ok": False, "datasets": []})
        else:
            print(why)
        return 1
    results = [check_dataset(get_spec(name), folder) for name, folder in real.items()]
    if args.json:
        print_json({"ok": all(r.ok for r in results), "datasets": [
            {"name": r.name, "root": str(r.root), "ok": r.ok, "images": r.images, "refs": r.refs,
             "types": r.types, "levels": r.levels, "problems": r.problems(),
             "missing": r.missing, "unreadable": r.unreadable, "unexpected": r.unexpected,
             "error": r.error} for r in results]})
    else:
        for result in results:
            print(result.summary_line())
    return 0 if all(r.ok for r in results) else 1


def _card(args) -> int:
    from ..data.card import card_json, card_text, data_card
    from ..data.open import open_dataset

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    ds = open_dataset(args.name, args.data_root, data_paths(args.set), args.seed, log=log)
    card = data_card(ds)
    if args.json:
        print_json(card_json(card))
    else:
        print(card_text(card))
    return 0


def main(args) -> int:
    if args.data_command == "list":
        return _list(args)
    if args.data_command == "check":
        return _check(args)
    if args.data_command == "card":
        return _card(args)
    print("usage: python -m bench data {list,check,card} [--data-root DIR]", file=sys.stderr)
    return 2
