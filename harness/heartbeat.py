"""The recording process's sign of life: a thread that refreshes its run's heartbeat and moves
the rows written so far from the write-ahead log into the ``.sqlite`` file.

A case can take minutes (a large model on a CPU); the heartbeat comes from its own thread so a slow
case never makes a live run look dead (torch and numpy release the GIL while they compute). See
:mod:`harness.liveness` for how readers use it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from harness.liveness import HEARTBEAT_SECONDS
from harness.store import Store, StoreError

__all__ = ["Heartbeat"]


class Heartbeat:
    """Refresh ``run_id``'s heartbeat in the store at ``path`` every ``interval`` seconds until
    :meth:`stop`. A failed refresh ends the thread and is kept in :attr:`error`."""

    def __init__(self, path: Path, run_id: str, interval: float = HEARTBEAT_SECONDS):
        self.path = path
        self.run_id = run_id
        self.interval = interval
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leakage-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread (at most one write's time)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        store = Store(self.path)  # its own connection: SQLite connections stay in their thread
        try:
            while not self._stop.wait(self.interval):
                store.beat(self.run_id)
                # rows so far reach the .sqlite file: a copy of it alone lags by one beat at most
                store.checkpoint()
        except StoreError as exc:
            self.error = str(exc)
        finally:
            store.close()
