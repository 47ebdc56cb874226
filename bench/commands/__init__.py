"""Subcommands of `python -m bench`. Each module defines NAME, HELP,
``add_arguments(parser)`` and ``main(args) -> int``; modules import heavy packages
(torch, pyiqa, matplotlib) inside ``main`` only, so that light commands start fast."""

# Order shown in `python -m bench --help`.
COMMAND_MODULES = [
    "run", "sweep", "list", "data", "report", "leaderboard", "score", "compare", "check",
    "explain", "speed",
]
