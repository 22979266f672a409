"""How many CPUs the rest of the machine leaves this process, measured rather than assumed.

The report forks one worker per free CPU, and only free ones count: on a saturated machine more
processes get no more CPU time and each adds work of its own. Linux counts every CPU's time by
state since boot (``/proc/stat``); two snapshots, each with this process's own CPU time, say how
much the *other* processes kept the CPUs busy in between. This process's own work in the window
(importing the report's libraries, reading the rows) is not held against it, so the window can
be one in which it was busy, and the answer is about now, unlike the load average, which trails
by a minute (a report run right after a pytest run would see that run's load).
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

__all__ = ["CpuTimes", "snapshot", "usable_cpus", "free_cpus", "PROC_STAT", "MIN_WINDOW_SECONDS"]

#: Where Linux counts the time of all CPUs, by state, since boot (in clock ticks).
PROC_STAT = "/proc/stat"
#: A window shorter than this (CPU seconds, over all CPUs) says too little: ticks are 10 ms.
MIN_WINDOW_SECONDS = 0.2


class CpuTimes(NamedTuple):
    """CPU seconds so far: idle on all CPUs, elapsed on all CPUs, and used by this process (with
    its finished children)."""

    idle: float
    total: float
    own: float


def snapshot() -> CpuTimes | None:
    """The machine's and this process's CPU time now, or ``None`` where there is no ``/proc/stat``."""
    try:
        with open(PROC_STAT, encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 5 or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already)
    ticks = [int(value) for value in fields[1:9]]
    per_second = os.sysconf("SC_CLK_TCK")
    own = os.times()  # this process's threads, and the children it has waited for (report workers, xdist's)
    own_seconds = own.user + own.system + own.children_user + own.children_system
    return CpuTimes((ticks[3] + ticks[4]) / per_second, sum(ticks) / per_second, own_seconds)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def free_cpus(since: CpuTimes | None = None) -> int:
    """The CPUs this process may use that other processes are not keeping busy, at least 1.

    With ``since`` (a :func:`snapshot`), every CPU less the share the other processes used since
    then; otherwise, or over too short a window, the CPUs less the 1-minute load average.
    """
    cpus = usable_cpus()
    now = snapshot() if since is not None else None
    if now is not None and now.total - since.total >= MIN_WINDOW_SECONDS:
        window = now.total - since.total
        others = (window - (now.idle - since.idle)) - (now.own - since.own)
        free = (os.cpu_count() or cpus) * (1 - min(max(others, 0.0), window) / window)
        return max(1, min(cpus, math.floor(free + 0.5)))
    if not hasattr(os, "getloadavg"):
        return 1
    return max(1, min(cpus, math.ceil(cpus - os.getloadavg()[0])))
