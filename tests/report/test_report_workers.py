"""The report's worker processes: the same results (and the same page) with any number of workers,
jobs really run in forked processes, a job's error surfaces as itself, a worker that dies costs
only time, and no fork where it is unsafe."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading

import pytest

from harness.report import workers
from harness.report.workers import can_fork, run_jobs, worker_count

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")

# The pool's behaviour is checked in a fresh interpreter: the test process may run other threads
# (tqdm's monitor, once a pipeline has run), and then, rightly, nothing is forked.
POOL_CHECKS = r"""
import json, logging, os, re, sys
from harness.cpu_load import free_cpus
from harness.report import build_report, workers
from harness.report.workers import can_fork, run_jobs, worker_count

logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="LOG %(message)s")
parent = os.getpid()

def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rpartition(")")[2].split()[1])
    except OSError:
        return None

checks = {"can_fork": can_fork(), "cpus": len(os.sched_getaffinity(0)), "parent": parent}
jobs = {f"job{n}": (lambda n=n: (os.getpid(), n * n)) for n in range(6)}  # lambdas: nothing is pickled
checks["squares"] = list(run_jobs(jobs, workers=2).items())

def fails():
    raise ValueError("a bad row")

try:
    run_jobs({"ok": lambda: 1, "bad": fails}, workers=2)
except ValueError as exc:
    checks["error"] = str(exc)

def dies_in_a_worker():
    if os.getpid() != parent:
        os._exit(3)  # as if the worker were killed
    return "built here"

checks["died"] = run_jobs({"dies": dies_in_a_worker, "ok": lambda: 7}, workers=2)
head_start = []
slow = {f"slow{n}": (lambda: __import__("time").sleep(0.2) or os.getpid()) for n in range(2)}
run_jobs(slow, workers=2, meanwhile=lambda: head_start.append(
    (os.getpid(), sum(1 for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == parent))))
checks["meanwhile"] = head_start

def broken_head_start():
    raise OSError("no template")

checks["meanwhile_error"] = run_jobs({"ok": lambda: 5}, workers=2, meanwhile=broken_head_start)
checks["counts"] = [worker_count(1, 4), worker_count(3, 8), worker_count(100)]
checks["idle"] = free_cpus()

def page(path):
    return re.sub(r"Generated .*? s\. ", "", path.read_text(encoding="utf-8"))

store, out = sys.argv[1], sys.argv[2]
alone = page(build_report(store, output=out + "/alone.html", workers=1))
shared = page(build_report(store, output=out + "/shared.html", workers=3))
checks["page"] = {"same": alone == shared, "charts": alone.count('src="data:image/svg+xml;base64,'),
                  "table": 'id="case-table"' in alone}
print("CHECKS " + json.dumps(checks))
"""


@pytest.fixture(scope="module")
def pool(smoke_store, tmp_path_factory) -> dict:
    """What :data:`POOL_CHECKS` found, and the log lines it printed."""
    out = tmp_path_factory.mktemp("workers")
    done = subprocess.run([sys.executable, "-c", POOL_CHECKS, str(smoke_store), str(out)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    checks = json.loads(next(line for line in lines if line.startswith("CHECKS "))[len("CHECKS "):])
    checks["log"] = [line for line in lines if line.startswith("LOG ")]
    return checks


@linux_only
def test_jobs_run_in_forked_workers_and_results_keep_the_jobs_order(pool):
    assert pool["can_fork"]
    assert [name for name, _ in pool["squares"]] == [f"job{n}" for n in range(6)]
    assert [square for _, (_, square) in pool["squares"]] == [n * n for n in range(6)]
    pids = {pid for _, (pid, _) in pool["squares"]}
    assert pool["parent"] not in pids and 1 <= len(pids) <= 2


@linux_only
def test_a_jobs_own_error_is_raised_here(pool):
    assert pool["error"] == "a bad row"


@linux_only
def test_a_worker_that_dies_costs_only_time(pool):
    assert pool["died"] == {"dies": "built here", "ok": 7}
    assert any("worker process died" in line for line in pool["log"]), pool["log"]


@linux_only
def test_the_callers_head_start_runs_here_once_while_the_workers_draw(pool):
    [(pid, children)] = pool["meanwhile"]
    assert pid == pool["parent"] and children >= 1  # the workers were alive while it ran
    assert pool["meanwhile_error"] == {"ok": 5}  # its failure is the caller's to meet again


def test_no_head_start_without_workers():
    called = []
    assert run_jobs({"a": lambda: 1}, workers=1, meanwhile=lambda: called.append(1)) == {"a": 1}
    assert called == []


@linux_only
def test_worker_count_is_capped_by_jobs_and_defaults_to_the_cpus(pool):
    assert pool["counts"] == [1, 3, min(pool["idle"], workers.MAX_WORKERS)]
    assert 1 <= pool["idle"] <= pool["cpus"]


@linux_only
def test_the_page_is_the_same_with_and_without_workers(pool):
    assert pool["page"] == {"same": True, "charts": 11, "table": True}


def test_one_worker_runs_every_job_here_in_order():
    calls = []
    results = run_jobs({"b": lambda: calls.append("b") or 2, "a": lambda: calls.append("a") or 1}, workers=1)
    assert results == {"b": 2, "a": 1} and calls == ["b", "a"]


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


def test_bad_worker_count_is_rejected():
    with pytest.raises(ValueError, match="workers must be a positive number, got 0"):
        worker_count(3, 0)


def test_the_heap_is_frozen_only_while_jobs_run():
    counts = run_jobs({"frozen": gc.get_freeze_count}, workers=1)
    assert counts["frozen"] > 0 and gc.get_freeze_count() == 0


def test_a_heap_frozen_by_someone_else_stays_frozen():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        run_jobs({"n": lambda: 1}, workers=1)
        # not thawed, and nothing frozen on top (frozen objects that other threads release while
        # the jobs run leave the count, so it may only shrink)
        assert 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()


def test_tqdms_idle_monitor_is_stopped_and_the_next_bar_starts_another():
    from tqdm import tqdm
    from tqdm._monitor import TMonitor

    def monitors():
        return [t for t in threading.enumerate() if isinstance(t, TMonitor) and t.is_alive()]

    bar = tqdm(total=3, disable=True)  # a bar that stays open keeps tqdm's monitor thread alive
    try:
        assert monitors()
        workers.stop_idle_threads()
        assert not monitors()
        again = tqdm(total=3, disable=True)
        assert monitors()
        again.close()
    finally:
        bar.close()
