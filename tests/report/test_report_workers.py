"""The report's worker processes: the same results (and the same page) with any number of workers,
jobs really run in forked processes, a job's error surfaces as itself, a worker that dies costs
only time, and no fork where it is unsafe."""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import threading

import pytest

from harness.report import build_report, workers
from harness.report.workers import can_fork, run_jobs, worker_count

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


@pytest.fixture
def forkable():
    """Skip where this test process cannot fork workers (another Python thread is running)."""
    if not can_fork():
        others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
        pytest.skip(f"this process runs other threads, so no workers are forked: {others}")


def _pid_and_square(n: int) -> tuple[int, int]:
    return os.getpid(), n * n


@linux_only
def test_jobs_run_in_forked_workers_and_results_keep_the_jobs_order(forkable):
    jobs = {f"job{n}": (lambda n=n: _pid_and_square(n)) for n in range(6)}  # lambdas: nothing is pickled
    results = run_jobs(jobs, workers=2)
    assert list(results) == list(jobs)
    assert [square for _, square in results.values()] == [n * n for n in range(6)]
    pids = {pid for pid, _ in results.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_one_worker_runs_every_job_here_in_order():
    calls = []
    results = run_jobs({"b": lambda: calls.append("b") or 2, "a": lambda: calls.append("a") or 1}, workers=1)
    assert results == {"b": 2, "a": 1} and calls == ["b", "a"]


def _fails():
    raise ValueError("a bad row")


@linux_only
def test_a_jobs_own_error_is_raised_here(forkable):
    with pytest.raises(ValueError, match="a bad row"):
        run_jobs({"ok": lambda: 1, "bad": _fails}, workers=2)


@linux_only
def test_a_worker_that_dies_costs_only_time(forkable, caplog):
    parent = os.getpid()

    def dies_in_a_worker():
        if os.getpid() != parent:
            os._exit(3)  # as if the worker were killed
        return "built here"

    with caplog.at_level(logging.WARNING, logger=workers.__name__):
        results = run_jobs({"dies": dies_in_a_worker, "ok": lambda: 7}, workers=2)
    assert results == {"dies": "built here", "ok": 7}
    assert "worker process died" in caplog.text


def test_no_fork_while_another_thread_runs():
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="busy")
    thread.start()
    try:
        assert not can_fork()
        assert worker_count(10, 4) == 1
        assert run_jobs({"pid": os.getpid}, workers=4) == {"pid": os.getpid()}
    finally:
        release.set()
        thread.join()


def test_no_fork_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not can_fork() and worker_count(10, 4) == 1


@linux_only
def test_worker_count_is_capped_by_jobs_and_defaults_to_the_cpus(forkable):
    assert worker_count(1, 4) == 1
    assert worker_count(3, 8) == 3
    assert worker_count(100) == min(len(os.sched_getaffinity(0)), workers.MAX_WORKERS)


def test_bad_worker_count_is_rejected():
    with pytest.raises(ValueError, match="workers must be a positive number, got 0"):
        worker_count(3, 0)


def _page(path) -> str:
    """The page without what differs between two builds (generation time, build time)."""
    html = path.read_text(encoding="utf-8")
    return re.sub(r"Generated .*? s\. ", "", html)


@linux_only
def test_the_page_is_the_same_with_and_without_workers(smoke_store, tmp_path, forkable):
    alone = _page(build_report(smoke_store, output=tmp_path / "alone.html", workers=1))
    shared = _page(build_report(smoke_store, output=tmp_path / "shared.html", workers=3))
    assert alone == shared
    assert alone.count('src="data:image/svg+xml;base64,') == 11 and 'id="case-table"' in alone


def test_the_heap_is_frozen_only_while_jobs_run():
    counts = run_jobs({"frozen": gc.get_freeze_count}, workers=1)
    assert counts["frozen"] > 0 and gc.get_freeze_count() == 0


def test_a_heap_frozen_by_someone_else_stays_frozen():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        run_jobs({"n": lambda: 1}, workers=1)
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
