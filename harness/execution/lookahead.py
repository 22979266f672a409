"""Look-ahead: the next case's pipeline call runs while this case's metrics are computed.

Once a case has its output (and its image's VAE floor), the rest of its work is metrics on the
CPU, which leave the pipeline idle: on CUDA the device waits, and on the CPU torch runs on
``--leak-threads`` threads (1 by default) while other cores wait. So the next item's call, when
it is a batched call this process will compute, is started in a background thread then, and
joined as the item tears down (the plugin's ``pytest_runtest_teardown``, before any fixture's
finalizer; and when the session ends): it overlaps the case's metrics, artifacts and row, and
nothing outside the item. Two threads never use the pipeline at once (this case's own calls are
done, the next one's wait for the join), and the next item takes its output from the process's
cache (:class:`~harness.execution.batches.Batches`), computed exactly as it would have been.

"The next item" is the next one whose call this process will compute: items that will copy an
identical case's row, take an output a batched call made already, or are skipped are passed
over (at most :data:`SCAN` items ahead), so that a run with duplicate cases keeps the pipeline
busy through them. pytest says which item runs next (``nextitem``, under xdist too); beyond it
the order is ``session.items``', which is the order pytest runs them in a process that is not
an xdist worker (a worker's later items are not known yet, and are not guessed).

What changes is the time a call takes: the look-ahead call shares the machine (and Python's
lock) with the metrics, so its ``seconds`` include some of their time. Where the call would
have every CPU to itself anyway (torch threads >= the CPUs this process may use) nothing is
gained and nothing is started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

__all__ = ["Lookahead", "worthwhile", "upcoming_cases", "SCAN"]

log = logging.getLogger(__name__)

#: How many items past the current one are looked at for the next call to compute.
SCAN = 8
_POSITIONS = pytest.StashKey[dict]()  # id(item) -> its index in session.items


def upcoming_cases(item: pytest.Item, nextitem: pytest.Item | None, case_of: Callable[[pytest.Item], object], *,
                   in_order: bool) -> list:
    """The cases (``case_of``; ``None`` for other tests and for skipped items) of the next
    :data:`SCAN` items this process will run after ``item``: ``nextitem`` and, with ``in_order``
    (not an xdist worker), the items after it in ``session.items``.

    Relies on pytest's ``pytest_runtestloop``: it runs ``session.items`` in order, each with the
    following one as ``nextitem``; where ``nextitem`` is not the item after ``item`` there (a
    plugin that reorders or repeats items at run time), nothing past ``nextitem`` is assumed.
    """
    if nextitem is None:
        return []
    following = [nextitem]
    if in_order:
        items = item.session.items
        positions = item.session.stash.get(_POSITIONS, None)
        if positions is None or len(positions) != len(items):
            positions = item.session.stash[_POSITIONS] = {id(it): i for i, it in enumerate(items)}
        at = positions.get(id(item))
        if at is not None and at + 1 < len(items) and items[at + 1] is nextitem:
            following = items[at + 1:at + 1 + SCAN]
    return [None if it.get_closest_marker("skip") is not None else case_of(it) for it in following]


def worthwhile(device: str) -> bool:
    """Whether a call can overlap the metrics: on CUDA, or on a CPU with cores torch leaves free."""
    if device.startswith("cuda"):
        return True
    import torch

    from harness.cpu_load import usable_cpus

    return torch.get_num_threads() < usable_cpus()


class Lookahead:
    """At most one background call at a time; :meth:`settle` waits for it.

    ``idle_tasks`` (a list the caller may still append to) are run one per :meth:`settle` that
    finds the call still running, in the time the main thread would spend waiting: the report's
    imports, for one. A task that fails is logged and dropped.
    """

    def __init__(self, idle_tasks: list[Callable[[], object]] | None = None) -> None:
        self._thread: threading.Thread | None = None
        self._idle_tasks = idle_tasks if idle_tasks is not None else []
        self.started = 0  # look-ahead calls started in this process

    def start(self, work: Callable[[], None]) -> None:
        """Run ``work`` in a background thread (after any earlier one finished). ``work`` keeps its
        own results; an exception it lets through is logged and forgotten: the case that needed
        the output then computes it itself, and meets the error there."""
        self.settle()

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - recomputed (and raised) by the case that needs it
                log.warning("look-ahead call failed (%s: %s); the case will run it itself", type(exc).__name__, exc)

        self._thread = threading.Thread(target=run, name="leakage-lookahead", daemon=False)
        self.started += 1
        self._thread.start()

    def settle(self) -> None:
        """Wait for the background call, if one is running (first running an idle task, if any)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._idle_tasks and thread.is_alive():
            task = self._idle_tasks.pop(0)
            try:
                task()
            except Exception as exc:  # noqa: BLE001 - an optional head start: whoever needs it meets the error itself
                log.warning("task while waiting for the look-ahead failed (%s: %s)", type(exc).__name__, exc)
        thread.join()
