"""User-facing errors: the CLI prints their message on one line, never a traceback."""


class BenchError(Exception):
    """An error caused by the user's input or environment; exit status 1."""

    exit_code = 1


class UsageError(BenchError):
    """A bad option or value on the command line (unknown method, bad --set key); exit 2."""

    exit_code = 2


class DataError(BenchError):
    """A dataset problem: missing, unreadable or unexpected file, malformed score file.

    The message always names the file and says what to do.
    """

    exit_code = 1


class TrainingDiverged(BenchError):
    """The training loss became NaN or infinite; the run is left without a `done` marker."""

    exit_code = 1


def unknown_choice(kind: str, value: str, choices) -> UsageError:
    """Build the one-line error for an unknown `kind` (e.g. 'method') listing valid choices."""
    valid = ", ".join(sorted(choices))
    return UsageError(f"unknown {kind} '{value}'; valid choices: {valid}")
