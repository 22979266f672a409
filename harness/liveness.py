"""Whether a recorded run is still alive: its process, its host and its heartbeat.

A run is written as ``running`` with the host name and pid of the process that records it (the
pytest controller), and that process refreshes the run's heartbeat while it runs (every
:data:`HEARTBEAT_SECONDS` from a thread, and with every row it writes). A reader judges a run still
marked ``running``:

* on the same host, a pid that no longer exists means the run **died**;
* on any host, a heartbeat older than :data:`STALE_AFTER_SECONDS` means it died (a run recorded on
  another machine, on a shared folder, can only be judged this way).

The bound is ten missed beats: a slow case does not delay the beat (it comes from its own thread),
so only a process that is gone, frozen or suspended for minutes goes quiet that long. A run with
no heartbeat recorded (written by an older harness) cannot be judged and stays ``running``.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS", "RUNNING", "DIED", "this_host", "process_alive", "run_status"]

#: How often the recording process refreshes its run's heartbeat.
HEARTBEAT_SECONDS = 30.0
#: A ``running`` run whose heartbeat is older than this has died.
STALE_AFTER_SECONDS = 10 * HEARTBEAT_SECONDS

RUNNING = "running"
DIED = "died"


def this_host() -> str:
    """The name of this machine, as recorded with a run."""
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this machine (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def run_status(status: str, *, host: str | None, pid: int | None, heartbeat: str | None,
               now: datetime | None = None) -> str:
    """The status to show for a run record: ``status`` itself, or :data:`DIED` for a ``running``
    run whose process is gone or whose heartbeat is stale (see the module's docstring)."""
    if status != RUNNING:
        return status
    if host == this_host() and pid is not None and not process_alive(int(pid)):
        return DIED
    if heartbeat:
        now = now or datetime.now(timezone.utc)
        if (now - datetime.fromisoformat(heartbeat)).total_seconds() > STALE_AFTER_SECONDS:
            return DIED
    return status
