"""Telling a run that died from a live one: pid on this host, heartbeat anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from harness import liveness
from harness.liveness import DIED, RUNNING, STALE_AFTER_SECONDS, run_status, this_host
from harness.store import Store

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def _ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def gone_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_live_process_on_this_host_is_running():
    assert run_status(RUNNING, host=this_host(), pid=os.getpid(), heartbeat=_ago(1), now=NOW) == RUNNING


def test_a_gone_process_on_this_host_died_even_with_a_fresh_heartbeat(gone_pid):
    assert run_status(RUNNING, host=this_host(), pid=gone_pid, heartbeat=_ago(0), now=NOW) == DIED


def test_on_another_host_only_the_heartbeat_tells(gone_pid):
    other = this_host() + "-elsewhere"
    assert run_status(RUNNING, host=other, pid=gone_pid, heartbeat=_ago(STALE_AFTER_SECONDS - 1), now=NOW) == RUNNING
    assert run_status(RUNNING, host=other, pid=gone_pid, heartbeat=_ago(STALE_AFTER_SECONDS + 1), now=NOW) == DIED


def test_a_stale_heartbeat_means_died_even_when_the_pid_exists():
    # the pid may have been reused by another program; a run that stopped beating is gone
    stale = _ago(STALE_AFTER_SECONDS + 60)
    assert run_status(RUNNING, host=this_host(), pid=os.getpid(), heartbeat=stale, now=NOW) == DIED


@pytest.mark.parametrize("status", ["passed", "failed", "interrupted", "error"])
def test_finished_runs_keep_their_status(status, gone_pid):
    assert run_status(status, host=this_host(), pid=gone_pid, heartbeat=_ago(10**6), now=NOW) == status


def test_a_run_without_liveness_data_cannot_be_judged():
    assert run_status(RUNNING, host=None, pid=None, heartbeat=None, now=NOW) == RUNNING


def test_process_alive():
    assert liveness.process_alive(os.getpid())


def test_the_store_reads_a_dead_run_as_died_and_a_live_one_as_running(tmp_path, gone_pid):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("live", name=None, preset="smoke", options={})
    store.start_run("dead", name=None, preset="smoke", options={})
    store._commit([("UPDATE runs SET pid = ? WHERE run_id = 'dead'", (gone_pid,))])
    reader = Store(store.path)
    assert dict(zip(reader.runs().run_id, reader.runs().status)) == {"live": RUNNING, "dead": DIED}
    assert reader.run("dead")["status"] == DIED
    runs = reader.runs()
    assert runs.set_index("run_id").loc["live", "host"] == this_host()
    assert runs.set_index("run_id").loc["live", "pid"] == os.getpid()
