"""Look-ahead: the next case's pipeline call runs while this case's metrics are computed.

Once a case has its output (and its image's VAE floor), the rest of its work is metrics on the
CPU, which leave the pipeline idle: on CUDA the device waits, and on the CPU torch runs on
``--leak-threads`` threads (1 by default) while other cores wait. So the next item's call, when
it is a batched call this process will compute, is started in a background thread then, and
joined before the case's measurement returns: nothing runs concurrently outside one item, two
threads never use the pipeline at once (this case's own calls are done, the next one's wait for
the join), and the next item takes its output from the process's cache
(:class:`~harness.execution.batches.Batches`), computed exactly as it would have been.

What changes is the time a call takes: the look-ahead call shares the machine (and Python's
lock) with the metrics, so its ``seconds`` include some of their time. Where the call would
have every CPU to itself anyway (torch threads >= the CPUs this process may use) nothing is
gained and nothing is started.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

__all__ = ["Lookahead", "worthwhile"]

log = logging.getLogger(__name__)


def worthwhile(device: str) -> bool:
    """Whether a call can overlap the metrics: on CUDA, or on a CPU with cores torch leaves free."""
    if device.startswith("cuda"):
        return True
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() < cpus


class Lookahead:
    """At most one background call at a time; :meth:`settle` waits for it."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
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
        """Wait for the background call, if one is running."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
