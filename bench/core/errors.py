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


def suggest(value: str, choices) -> str | None:
    """The closest of ``choices`` to a misspelt ``value`` (difflib ratio >= 0.6), or None."""
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_choice(kind: str, value: str, choices) -> UsageError:
    """Build the one-line error for an unknown `kind` (e.g. 'method'): a "did you mean"
    suggestion when a choice is close, then the valid choices."""
    choices = sorted(str(c) for c in choices)
    hint = suggest(value, choices)
    did = f"; did you mean '{hint}'?" if hint else ""
    return UsageError(f"unknown {kind} '{value}'{did}; valid choices: {', '.join(choices)}")


def require_extra(module: str, extra: str, purpose: str):
    """Import and return the optional dependency ``module``; when it is not installed, a
    one-line BenchError naming the package extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise BenchError(f"{purpose} needs the {module} package, an optional extra: "
                         f"pip install 'iqa-bench[{extra}]'") from None
