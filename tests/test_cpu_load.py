"""Free CPUs measured from the machine's CPU time less this process's own, with the load average
as the fallback."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest

from harness import cpu_load
from harness.cpu_load import CpuTimes, free_cpus, snapshot

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")


@pytest.fixture
def four_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)


def test_snapshot_reads_idle_total_and_own_time(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 20 700 30 1 2 3 40 0\ncpu0 50 2 10 350 15 0 1 1 20 0\n")
    monkeypatch.setattr(cpu_load, "PROC_STAT", str(stat))
    monkeypatch.setattr(os, "sysconf", lambda name: 100)
    monkeypatch.setattr(os, "times", lambda: SimpleNamespace(user=1.25, system=0.5, children_user=0.25, children_system=0.0))
    # idle + iowait; user..steal (guest is inside user already), ticks of 10 ms; user + system here and in waited-for children
    assert snapshot() == CpuTimes(7.30, 8.61, 2.0)
    stat.write_text("intr 1 2 3\n")
    assert snapshot() is None
    monkeypatch.setattr(cpu_load, "PROC_STAT", str(tmp_path / "absent"))
    assert snapshot() is None


@pytest.mark.parametrize(("busy", "own", "free"), [
    (0.0, 0.0, 4),    # an idle machine
    (4.0, 4.0, 4),    # all the work was this process's own: it does not count against it
    (10.0, 2.0, 2),   # others kept 8 of the window's 16 CPU seconds busy: half the machine
    (8.0, 2.0, 3),    # others 6 of 16: 2.5 CPUs free, rounded half up
    (14.0, 1.0, 1),   # others 13 of 16: 0.75 free
    (16.0, 0.0, 1),   # saturated by others: still 1 (this process runs anyway)
    (4.0, 6.0, 4),    # own time read a tick ahead of the machine's: no negative load
])
def test_free_cpus_since_a_snapshot(monkeypatch, four_cpus, busy, own, free):
    # a 4 s window on 4 CPUs: 16 CPU seconds; the stale load average is not used
    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 0.0, 0.0))
    monkeypatch.setattr(cpu_load, "snapshot", lambda: CpuTimes(100.0 + 16.0 - busy, 116.0, 10.0 + own))
    assert free_cpus(since=CpuTimes(100.0, 100.0, 10.0)) == free


@pytest.mark.parametrize(("load", "free"), [(0.0, 4), (0.3, 4), (1.2, 3), (3.9, 1), (12.0, 1)])
def test_without_a_snapshot_the_load_average_decides(monkeypatch, four_cpus, load, free):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert free_cpus() == free


def test_a_window_too_short_or_unmeasurable_falls_back_to_the_load_average(monkeypatch, four_cpus):
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 0.0, 0.0))
    monkeypatch.setattr(cpu_load, "snapshot", lambda: CpuTimes(100.05, 100.1, 10.0))  # 0.1 CPU seconds
    assert free_cpus(since=CpuTimes(100.0, 100.0, 10.0)) == 2
    monkeypatch.setattr(cpu_load, "snapshot", lambda: None)  # no /proc/stat
    assert free_cpus(since=CpuTimes(100.0, 100.0, 10.0)) == 2


@linux_only
def test_the_snapshot_counts_this_machines_and_this_processs_time():
    first = snapshot()
    sum(range(3_000_000))  # some work, so time passes on a CPU, this process's among them
    second = snapshot()
    assert first is not None and second.total > first.total >= first.idle >= 0 and second.idle >= first.idle
    assert second.own > first.own > 0


def test_usable_cpus_are_the_affinity_mask(monkeypatch, four_cpus):
    assert cpu_load.usable_cpus() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1}, raising=False)
    assert cpu_load.usable_cpus() == 1
