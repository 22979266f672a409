"""The progress line of a leakage session: cases done of the total, failures, rate, elapsed, ETA.

Pure logic (counting, rates, when a line is due, its text); the plugin feeds it the test reports
the controller receives (so under xdist it counts every worker's cases) and writes the lines it
returns through pytest's ``TerminalReporter``.

How it is shown, and why. pytest writes its own progress onto the terminal's current line: at
the default verbosity and under ``-q`` a dot per test, appended to the line of the test file
(``_tw.write``), then `` [ 42%]`` padded to the right edge; under ``-v`` (and ``-n``) a line per
test. Nothing tells a plugin when pytest is about to write, so a line redrawn in place
(``TerminalReporter.rewrite``, ``\\r``) would either erase the dots of the line it shares, or be
overwritten by the next dot. The progress is therefore a line of its own, written with
``ensure_newline`` + ``write_line`` between pytest's writes: under ``-v`` it stands between two
test lines; at the default verbosity it interrupts a row of dots, which resumes on the next line
(pytest pads its ``[ NN%]`` from the current line's width, so that column stays right). On a
terminal a line comes every :data:`TERMINAL_SECONDS` seconds and when the last case ends, so a
long sweep shows a fresh rate and ETA without flooding the dots and a short one stays quiet; when the output is not a terminal (CI logs) a plain line comes
at every tenth of the cases or every :data:`PLAIN_SECONDS` seconds, whichever is first.
``--leak-progress off`` silences it; ``on`` shows it even under ``-qq``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["Progress", "ProgressState", "format_duration", "TERMINAL_SECONDS", "PLAIN_SECONDS", "PLAIN_FRACTION"]

#: On a terminal: a line this often (and one when the last case ends).
TERMINAL_SECONDS = 10.0
#: Not a terminal (CI): a line at least this often, and at every :data:`PLAIN_FRACTION` of the cases.
PLAIN_SECONDS = 30.0
PLAIN_FRACTION = 0.1


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:30``, ``3:04:15``: minutes and seconds, hours when there are any."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class ProgressState:
    """Where the sweep stands at one moment."""

    done: int
    total: int
    failed: int
    elapsed: float

    @property
    def rate(self) -> float | None:
        """Cases per second since the run began (``None`` before the first case ends). It includes the
        pipeline's loading in the first case, which a long sweep soon averages away."""
        return self.done / self.elapsed if self.done and self.elapsed > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (``None`` while there is no rate)."""
        rate = self.rate
        return (self.total - self.done) / rate if rate else None

    def line(self) -> str:
        """``leakage: 40/96 cases (42%), 1 failed, 3.1 cases/s, elapsed 0:13, ETA 0:18``."""
        percent = math.floor(100 * self.done / self.total) if self.total else 100
        rate = f"{self.rate:.3g} cases/s" if self.rate else "– cases/s"
        eta = format_duration(self.eta) if self.eta is not None else "–"
        return (f"leakage: {self.done}/{self.total} cases ({percent}%), {self.failed} failed, {rate}, "
                f"elapsed {format_duration(self.elapsed)}, ETA {eta}")


class Progress:
    """Counts the cases of one run and says when a progress line is due.

    Parameters
    ----------
    total:
        The cases that will run (selected leakage items).
    terminal:
        Whether the output is a terminal (a line every :data:`TERMINAL_SECONDS`) or a log
        (:data:`PLAIN_SECONDS`, and every :data:`PLAIN_FRACTION` of the cases).
    clock:
        Seconds, monotonic (tests pass a fake one).

    Examples
    --------
    >>> now = [0.0]
    >>> progress = Progress(4, terminal=False, clock=lambda: now[0])
    >>> now[0] = 2.0
    >>> progress.report("a", failed=False, finished=True)
    'leakage: 1/4 cases (25%), 0 failed, 0.5 cases/s, elapsed 0:02, ETA 0:06'
    """

    def __init__(self, total: int, *, terminal: bool, clock: Callable[[], float] = time.monotonic):
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.total = total
        self.terminal = terminal
        self._clock = clock
        self._started = clock()
        self._done: set[str] = set()
        self._failed: set[str] = set()
        self._last_line_at = self._started
        self._last_step = 0  # the last tenth of the cases a line was written for

    @property
    def finished(self) -> bool:
        """Whether every counted case has ended."""
        return len(self._done) >= self.total

    def state(self) -> ProgressState:
        """The counts now (a total found too small, e.g. a case added late, grows to what ran)."""
        done = len(self._done)
        return ProgressState(done, max(self.total, done), len(self._failed), self._clock() - self._started)

    def report(self, case: str, *, failed: bool, finished: bool) -> str | None:
        """Note one report of ``case`` (any phase); return the progress line if one is due now.

        ``failed``: this phase failed (the case counts as failed once). ``finished``: the case's
        last report (teardown, or its worker crashed). A case is counted once however many
        reports it has.
        """
        if failed:
            self._failed.add(case)
        if not finished or case in self._done:
            return None
        self._done.add(case)
        return self._due()

    def _due(self) -> str | None:
        state = self.state()
        steps = round(1 / PLAIN_FRACTION)
        step = state.done * steps // state.total if state.total else steps
        every = TERMINAL_SECONDS if self.terminal else PLAIN_SECONDS
        # on a terminal the tenths are not marked (a short sweep would get ten lines), only the end
        marked = step > self._last_step and (not self.terminal or state.done >= state.total)
        if marked or self._clock() - self._last_line_at >= every:
            self._last_step, self._last_line_at = step, self._clock()
            return state.line()
        return None
