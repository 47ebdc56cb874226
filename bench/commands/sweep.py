"""`python -m bench sweep`: the options of `run`, several taking comma-separated lists,
expanded into runs (one per run config and fold) and run by a launcher.

    python -m bench sweep --protocol lodo --method erm,cis,cip --seed 0,1,2 --dry-run
    python -m bench sweep --method erm,cis --clusters 1,2,3,4,5 --jobs 2
    python -m bench sweep --method cis,cip --launcher submitit --partition gpu --time 600
    python -m bench sweep --method erm,cis --hparams 8 --validation true --dry-run

``--hparams N`` runs N draws of a random search per method (draw 0 = the defaults; the
search distributions are declared beside the settings, bench/app/hparams.py); the
dry run lists each draw's values.

A run already done is never run again, so an interrupted sweep is finished by starting
the same command again. Exit status: 0 when every run of the sweep is done, 1 when some
failed (each is reported with the end of its output), 130 after Ctrl-C.
"""
from __future__ import annotations

import sys

from .options import add_run_arguments, dest, method_options, protocol_options, spec_from_args

NAME = "sweep"
HELP = "run every combination of comma-separated run options (e.g. --method erm,cis --seed 0,1,2)"
#: `run` options a sweep takes as comma-separated lists: argparse dest -> (axis field, key)
SWEPT_RUN_OPTIONS = {"protocol": ("protocol", ""), "method": ("method", ""),
                     "profile": ("profile", ""), "seed": ("seed", ""),
                     "backbone": ("setting", "model.backbone")}


def swept() -> dict[str, tuple]:
    """Every sweepable option: argparse dest -> (axis field, key, item converter or None
    for the option's own type): the run options above, each protocol option that takes one
    value (list-valued ones are lists already) and each method setting with a flag."""
    from ..core.config import parse_value

    out = {d: (f, k, None) for d, (f, k) in SWEPT_RUN_OPTIONS.items()}
    for flag, (key, s, _) in protocol_options().items():
        if s.kind != "list":
            out[dest(flag)] = ("option", key, lambda text, s=s, flag=flag: s.parse(text, f"--{flag}"))
    for flag, (key, _, _) in method_options().items():
        out[dest(flag)] = ("setting", f"method.{key}", parse_value)
    return out


def add_arguments(p) -> None:
    """`run`'s options (lists where they sweep), --dry-run, the launcher and its options."""
    from ..app.launchers import LAUNCHERS

    add_run_arguments(p)
    make_sweepable(p)
    p.add_argument("--hparams", metavar="N", type=int, default=None,
                   help="N draws of a random hyperparameter search per method (draw 0 = the "
                        "defaults, draw k seeded by method, dataset and k; values set with "
                        "--set are kept); every method gets the same N")
    p.add_argument("--dry-run", action="store_true",
                   help="list every run with its folder and whether it is done; train nothing")
    classes = list(dict.fromkeys(cls for _, cls in LAUNCHERS.items()))
    p.add_argument("--launcher", default="local",
                   help=f"how runs are executed: {launcher_choices()} (default local)")
    for cls in classes:
        cls.add_arguments(p.add_argument_group(f"{cls.name} launcher"))


def make_sweepable(parser) -> None:
    """Turn the sweepable options of a parser holding `run`'s options into comma-separated
    lists, kept as text; each item is converted by the option's own type in
    :func:`sweep_plan` (the parser's default ``_sweep_items``: dest -> (flag, type))."""
    sweepable, items = swept(), {}
    for action in parser._actions:  # argparse keeps no public list of actions
        if action.dest in sweepable:
            items[action.dest] = (action.option_strings[-1],
                                  sweepable[action.dest][2] or action.type)
            action.type = None
            action.metavar = "LIST"
            action.help = f"{action.help}; a comma-separated list sweeps it"
    parser.set_defaults(_sweep_items=items)


def split_list(text) -> list[str]:
    """'a, b,,a' -> ['a', 'b'] (order kept, duplicates and blanks dropped)."""
    items = [x.strip() for x in str(text).split(",")]
    return list(dict.fromkeys(x for x in items if x))


def sweep_plan(args) -> tuple:
    """(base RunSpec, axes) of a `sweep` invocation: every sweepable option given becomes
    an axis of its items, each converted by the option's type (a one-line UsageError for a
    bad item); the base spec holds the other options and each axis's first value."""
    import argparse

    from ..app.sweep import Axis
    from ..core.errors import UsageError

    fields, axes, first = swept(), [], argparse.Namespace(**vars(args))
    for name, (flag, convert) in args._sweep_items.items():
        text = getattr(args, name, None)
        if text is None:
            continue
        items = split_list(text)
        if not items:
            raise UsageError(f"{flag} was given an empty list")
        try:
            values = [convert(item) if convert else item for item in items]
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise UsageError(f"{flag}: invalid value in '{text}' ({exc})") from None
        field_name, key, _ = fields[name]
        axes.append(Axis(field_name, values, key, label=flag[2:]))
        setattr(first, name, values[0])
    return spec_from_args(first, one_protocol=False), axes


def launcher_choices() -> str:
    """The registered launcher names, as both --help and the unknown-launcher error list
    them: 'local, slurm, submitit' (aliases included)."""
    from ..app.launchers import LAUNCHERS

    return ", ".join(LAUNCHERS.names())


def main(args) -> int:
    """Plan the sweep, then list it (--dry-run) or run what is not done."""
    from ..app.launchers import LAUNCHERS
    from ..core.record import RunFolder
    from ..app.sweep import count_line, expand, format_plan, plan

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    launcher_cls = LAUNCHERS.get(args.launcher)
    launcher = None if args.dry_run else launcher_cls(args)  # checks its options first
    base, axes = sweep_plan(args)
    specs = expand(base, axes)
    if args.hparams is not None:
        from ..app.hparams import DRAW_KEY, draw_lines, with_draws
        from ..app.sweep import Axis

        specs = with_draws(specs, args.hparams)
        axes = [*axes, Axis("setting", range(args.hparams), DRAW_KEY, label="draw")]
    units = plan(specs, log)
    if args.dry_run:
        if args.hparams is not None:
            print("\n".join(draw_lines(specs)) + "\n")
        print(format_plan(units, axes))
        return 0
    print(count_line(units), flush=True)
    todo = [u for u in units if not u.done]
    if not todo:
        print("nothing to do: every run of the sweep is done")
        return 0
    outcome = launcher.launch(todo, log)
    done = [RunFolder(u.folder).is_finished() for u in units]
    finished = [r.unit for r in outcome.results if r.status == "done"]
    failed = [r for r in outcome.results if r.status == "failed"]
    busy = [r for r in outcome.results
            if r.status == "busy" and not RunFolder(r.unit.folder).is_finished()]
    print(f"\nsweep: {count_line(units, done)}; {len(finished)} finished now")
    for r in failed:
        print(f"failed: {r.unit.name} ({r.detail})")
    for r in busy:
        print(f"not finished here: {r.unit.name} ({r.detail})")
    if outcome.interrupted:
        print(f"interrupted; finished in this session: "
              f"{', '.join(u.name for u in finished) or 'none'}. Run the same command again "
              "to finish the sweep (finished runs are kept, unfinished ones are redone).")
        return 128 + outcome.interrupted
    if all(done):
        return 0
    print("some runs are not done; run the same command again to retry them")
    return 1
