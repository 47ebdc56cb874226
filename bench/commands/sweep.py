"""`python -m bench sweep`: the options of `run`, several taking comma-separated lists,
expanded into runs (one per run config and fold) and run by a launcher.

    python -m bench sweep --protocol lodo --method erm,cis,cip --seed 0,1,2 --dry-run
    python -m bench sweep --method erm,cis --clusters 1,2,3,4,5 --jobs 2
    python -m bench sweep --method cis,cip --launcher submitit --partition gpu --time 600

A run already done is never run again, so an interrupted sweep is finished by starting
the same command again. Exit status: 0 when every run of the sweep is done, 1 when some
failed (each is reported with the end of its output), 130 after Ctrl-C.
"""
from __future__ import annotations

import sys

from .options import add_run_arguments

NAME = "sweep"
HELP = "run every combination of comma-separated run options (e.g. --method erm,cis --seed 0,1,2)"


def add_arguments(p) -> None:
    """`run`'s options (lists where they sweep), --dry-run, the launcher and its options."""
    from ..app.launchers import LAUNCHERS
    from ..app.sweep import make_sweepable

    add_run_arguments(p)
    make_sweepable(p)
    p.add_argument("--dry-run", action="store_true",
                   help="list every run with its folder and whether it is done; train nothing")
    classes = list(dict.fromkeys(cls for _, cls in LAUNCHERS.items()))
    p.add_argument("--launcher", default="local",
                   help=f"how runs are executed: {launcher_choices()} (default local)")
    for cls in classes:
        cls.add_arguments(p.add_argument_group(f"{cls.name} launcher"))


def launcher_choices() -> str:
    """The registered launcher names, as both --help and the unknown-launcher error list
    them: 'local, slurm, submitit' (aliases included)."""
    from ..app.launchers import LAUNCHERS

    return ", ".join(LAUNCHERS.names())


def main(args) -> int:
    """Plan the sweep, then list it (--dry-run) or run what is not done."""
    from ..app.launchers import LAUNCHERS
    from ..core.record import RunFolder
    from ..app.sweep import count_line, format_plan, plan

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    launcher_cls = LAUNCHERS.get(args.launcher)
    launcher = None if args.dry_run else launcher_cls(args)  # checks its options first
    units = plan(args, log)
    if args.dry_run:
        print(format_plan(units))
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
