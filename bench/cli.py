"""The `python -m bench` command line: one subcommand per module of bench.commands.

User errors (BenchError) print one line, ``bench: error: ...``, and exit with the error's
status (2 for usage errors); Ctrl-C exits 130 without a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .commands import COMMAND_MODULES
from .core.errors import BenchError


class _Parser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line and exit 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available subcommand registered."""
    parser = _Parser(prog="python -m bench", description="IQA generalization benchmark harness")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        mod = importlib.import_module(f"bench.commands.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 2
    try:
        return int(args._main(args) or 0)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted; finished runs are kept, unfinished ones will be redone",
              file=sys.stderr)
        return 130
