"""The `python -m bench` command line: one subcommand per module of bench.commands.

User errors (BenchError) print one line, ``bench: error: ...``, and exit with the error's
status (2 for usage errors); Ctrl-C exits 130 without a traceback; a closed pipe
(``... --json | head``) ends quietly with status 0. The usage line names the program as it
was started: ``iqa-bench`` (the console script) or ``python -m bench``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .commands import COMMAND_MODULES
from .core.errors import BenchError


class _Parser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line and exit 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def program_name(argv0: str | None = None) -> str:
    """The command as the user typed it: the console script's name (``iqa-bench``), or
    ``python -m bench`` when started as a module."""
    base = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "python -m bench" if base in ("", "-c", "-m", "__main__.py", "cli.py") else base


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available subcommand registered."""
    parser = _Parser(prog=program_name(), description="IQA generalization benchmark harness")
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
    except BrokenPipeError:
        # the reader closed the pipe (`| head`): what it wanted was printed; stdout goes to
        # devnull so that the interpreter's final flush cannot fail again
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):  # stdout is not a file (captured)
            pass
        return 0
    except KeyboardInterrupt:
        print("bench: interrupted; finished runs are kept, unfinished ones will be redone",
              file=sys.stderr)
        return 130
