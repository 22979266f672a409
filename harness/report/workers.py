"""Build the report's sections side by side in forked worker processes.

Drawing a section's charts is pure-Python matplotlib work, so threads would wait on each other;
processes do not. Workers are forked (``fork`` start method) after the run's rows are loaded, so
they inherit the rows and the imported libraries and receive nothing but a section's name; only
the finished sections (text, small arrays) travel back. Each job is a plain call: a worker returns
exactly what calling it here would, so the page is the same byte for byte either way.

Fork is used only on Linux (macOS offers it but its system libraries are not fork-safe, Windows
has none) and only while this process runs no other Python thread (a lock held by another thread
at the fork would stay locked in the child forever; tqdm's idle monitor thread, which a pipeline's
progress bars leave behind, is stopped first). Elsewhere, with one free CPU or one job, or
with ``workers=1``, every job runs here, in order. A job the pool fails to deliver (a worker killed,
a result that cannot be sent back) is computed here, with a logged warning.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from harness import heap
from harness.cpu_load import CpuTimes, free_cpus

__all__ = ["MAX_WORKERS", "can_fork", "stop_idle_threads", "worker_count", "run_jobs"]

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


def stop_idle_threads() -> None:
    """Stop tqdm's monitor thread, which would keep workers from being forked.

    tqdm starts it with a progress bar and stops it when the last bar is gone (``TMonitor.exit``,
    what tqdm calls itself); bars that are never collected (a pipeline's, in a frozen heap) keep it
    waking every 10 s for nothing. The next bar starts a new one.
    """
    monitor = sys.modules.get("tqdm._monitor")
    if monitor is None:
        return
    for thread in threading.enumerate():
        if isinstance(thread, monitor.TMonitor):
            thread.exit()


def worker_count(jobs: int, workers: int | None = None, idle_since: CpuTimes | None = None) -> int:
    """How many worker processes to use for ``jobs`` jobs: ``workers`` if given (1 = none), else
    one per CPU other processes leave free (:func:`harness.cpu_load.free_cpus`, measured since
    the snapshot ``idle_since``), at most :data:`MAX_WORKERS`; 1 where forking is unsafe.

    Only idle CPUs count: on a saturated machine more processes get no more CPU time, and each
    worker adds work of its own (copying the pages it touches, sending its sections back); on
    2 busy cores a 5020-row report took longer with 2 workers than with none.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be a positive number, got {workers}")
    if not can_fork():
        return 1
    if workers is None:
        workers = min(free_cpus(idle_since), MAX_WORKERS)
    return max(1, min(workers, jobs))


def run_jobs(jobs: Mapping[str, Callable[[], object]], *, workers: int | None = None,
             idle_since: CpuTimes | None = None, meanwhile: Callable[[], object] | None = None) -> dict[str, object]:
    """Call each of ``jobs`` (name -> callable without arguments) and return name -> result.

    The results are those of calling the jobs here, in order; with more than one worker
    (:func:`worker_count`) they are computed in forked processes. An exception a job raises
    is raised here, as if the job had run here. ``meanwhile``, a head start on the caller's own
    work, is called here while the workers draw; the caller must not rely on it having run (it
    is not called without workers, and an error it raises is left for the caller to meet again).
    """
    if workers != 1:
        stop_idle_threads()
    count = worker_count(len(jobs), workers, idle_since)
    # the objects alive now (modules, the run's rows) stay out of the garbage collector's scans
    # while the jobs draw: each full collection would walk them all (a tenth of a 5020-row
    # report's time), and in a forked worker also write to, and so copy, every inherited page
    with heap.frozen():
        results = _in_pool(jobs, count, meanwhile) if count > 1 else {}
        for name, job in jobs.items():
            if name not in results:
                results[name] = job()
    return {name: results[name] for name in jobs}


def _run(name: str) -> object:
    return _JOBS[name]()


def _in_pool(jobs: Mapping[str, Callable[[], object]], count: int,
             meanwhile: Callable[[], object] | None = None) -> dict[str, object]:
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
            if meanwhile is not None:
                try:
                    meanwhile()
                except Exception as exc:  # noqa: BLE001 - the caller does it again, where a real error is raised
                    log.debug("report: the head start failed (%s: %s)", type(exc).__name__, exc)
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
