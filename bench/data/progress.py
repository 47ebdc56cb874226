"""Progress lines for the long first-time jobs (suite generation, decoding): a line every
few seconds saying what is being done and how far it is, instead of minutes of silence."""
from __future__ import annotations

import sys
import time
from typing import Callable


class Progress:
    """Counts ``total`` units of one step and logs ``'  <what>: <done>/<total> <unit>
    (<elapsed> s)'`` through ``log`` (then flushes stdout and stderr): at most one line per
    ``every_s`` seconds while it runs, and always one when the count reaches the total.
    ``clock`` (seconds) is injectable for tests."""

    def __init__(self, log: Callable[[str], None], what: str, total: int, unit: str = "images",
                 every_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.what, self.total, self.unit = log, what, int(total), unit
        self.every_s, self.clock = every_s, clock
        self.done = 0
        self.start = self.last = clock()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done; log a line when due."""
        self.done += n
        now = self.clock()
        if self.done >= self.total or now - self.last >= self.every_s:
            self.last = now
            self.log(f"  {self.what}: {self.done}/{self.total} {self.unit} ({now - self.start:.0f} s)")
            for stream in (sys.stdout, sys.stderr):  # show it now, even in a pipe or a file
                if stream is not None:
                    stream.flush()
