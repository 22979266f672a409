"""Build the report's sections side by side in forked worker processes.

Drawing a section's charts is pure-Python matplotlib work, so threads would wait on each other;
processes do not. Workers are forked (``fork`` start method) after the run's rows are loaded, so
they inherit the rows and the imported libraries and receive nothing but a section's name; only
the finished sections (text, small arrays) travel back. Each job is a plain call: a worker returns
exactly what calling it here would, so the page is the same byte for byte either way.

Fork is used only on Linux (macOS offers it but its system libraries are not fork-safe, Windows
has none) and only while this process runs no other Python thread (a lock held by another thread
at the fork would stay locked in the child forever). Elsewhere, with one idle CPU or one job, or
with ``workers=1``, every job runs here, in order. A job the pool fails to deliver (a worker killed,
a result that cannot be sent back) is computed here, with a logged warning.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from harness import heap

__all__ = ["MAX_WORKERS", "can_fork", "cpu_snapshot", "idle_cpus", "worker_count", "run_jobs"]

log = logging.getLogger(__name__)

#: More workers than this gain little: the largest section alone takes about a quarter of the work.
MAX_WORKERS = 4

# The jobs of the pool being run; forked workers inherit them (fork copies the parent's memory),
# so a job's arguments (the run's rows) are never pickled.
_JOBS: Mapping[str, Callable[[], object]] = {}


def can_fork() -> bool:
    """Whether worker processes can be forked safely here (Linux, no other Python thread)."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


#: Where Linux counts the time of all CPUs, by state, since boot (in jiffies).
PROC_STAT = "/proc/stat"
#: Fewer jiffies than this between two snapshots say too little (10 ms each; over all CPUs).
MIN_WINDOW = 20


def cpu_snapshot() -> tuple[int, int] | None:
    """``(idle, total)`` time of all CPUs so far (``/proc/stat``), or ``None`` where there is none."""
    try:
        with open(PROC_STAT, encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 5 or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already)
    values = [int(value) for value in fields[1:9]]
    return values[3] + values[4], sum(values)


def idle_cpus(since: tuple[int, int] | None = None) -> int:
    """The CPUs this process may use that other work is not keeping busy, at least 1.

    With ``since`` (a :func:`cpu_snapshot` taken while this process worked, e.g. reading the
    rows), this process plus the share of all CPUs that stayed idle since then: what the machine
    does now. Otherwise, or over too short a window, the CPUs less the 1-minute load average,
    which trails by a minute (a report run right after another sees the first one's load).
    """
    cpus = len(os.sched_getaffinity(0))
    now = cpu_snapshot() if since is not None else None
    if now is not None and now[1] - since[1] >= MIN_WINDOW:
        idle_share = (now[0] - since[0]) / (now[1] - since[1])
        return max(1, min(cpus, round(1 + idle_share * (os.cpu_count() or cpus))))
    return max(1, min(cpus, math.ceil(cpus - os.getloadavg()[0])))


def worker_count(jobs: int, workers: int | None = None, idle_since: tuple[int, int] | None = None) -> int:
    """How many worker processes to use for ``jobs`` jobs: ``workers`` if given (1 = none), else
    one per idle CPU (:func:`idle_cpus`, measured ``since`` the snapshot ``idle_since``), at
    most :data:`MAX_WORKERS`; 1 where forking is unsafe.

    Only idle CPUs count: on a saturated machine more processes get no more CPU time, and each
    worker adds work of its own (copying the pages it touches, sending its sections back); on
    2 busy cores a 5020-row report took longer with 2 workers than with none.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be a positive number, got {workers}")
    if not can_fork():
        return 1
    if workers is None:
        workers = min(idle_cpus(idle_since), MAX_WORKERS)
    return max(1, min(workers, jobs))


def run_jobs(jobs: Mapping[str, Callable[[], object]], *, workers: int | None = None,
             idle_since: tuple[int, int] | None = None) -> dict[str, object]:
    """Call each of ``jobs`` (name -> callable without arguments) and return name -> result.

    The results are those of calling the jobs here, in order; with more than one worker
    (:func:`worker_count`) they are computed in forked processes. An exception a job raises
    is raised here, as if the job had run here.
    """
    count = worker_count(len(jobs), workers, idle_since)
    # the objects alive now (modules, the run's rows) stay out of the garbage collector's scans
    # while the jobs draw: each full collection would walk them all (a tenth of a 5020-row
    # report's time), and in a forked worker also write to, and so copy, every inherited page
    with heap.frozen():
        results = _in_pool(jobs, count) if count > 1 else {}
        for name, job in jobs.items():
            if name not in results:
                results[name] = job()
    return {name: results[name] for name in jobs}


def _run(name: str) -> object:
    return _JOBS[name]()


def _in_pool(jobs: Mapping[str, Callable[[], object]], count: int) -> dict[str, object]:
    """The results the pool delivered; a failed job is left out so that the caller computes it
    (a genuine error in the job then surfaces there, with its own traceback)."""
    global _JOBS
    _JOBS = jobs
    done: dict[str, object] = {}
    try:
        # ProcessPoolExecutor forks all workers before it starts its own threads (fork start
        # method), and unlike multiprocessing.Pool it notices a worker that died.
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_run, name): name for name in jobs}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    done[name] = future.result()
                except BrokenProcessPool as exc:
                    log.warning("report: a worker process died (%s); building the remaining sections in this "
                                "process", exc)
                    break
                except Exception as exc:  # noqa: BLE001 - recomputed by the caller, where a real error is raised
                    log.warning("report section %r failed in a worker process (%s: %s); building it in this "
                                "process", name, type(exc).__name__, exc)
    except OSError as exc:  # no processes or semaphores to be had: build every section here
        log.warning("report: no worker processes (%s); building every section in this process", exc)
    finally:
        _JOBS = {}
    return done
