"""The look-ahead: the next case's call runs during this case's metrics, computes exactly what the
case would have, and never outlives the item that started it."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from harness.execution import lookahead
from harness.execution.lookahead import Lookahead
from harness.pipelines.inpainter import Inpainter
from harness.store import Store

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider",
        "--leak-no-report"]
COMPARED = ["case_id", "status", "mse_outside", "mae_outside", "ssim_outside", "mse_excess", "texture_rho_excess",
            "steps_run", "batch_size", "message"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_start_runs_in_the_background_and_settle_waits_for_it():
    release, done = threading.Event(), []
    ahead = Lookahead()
    ahead.start(lambda: (release.wait(), done.append(threading.current_thread().name)))
    assert done == [] and ahead.started == 1
    release.set()
    ahead.settle()
    assert done == ["leakage-lookahead"]
    ahead.settle()  # nothing running: nothing to wait for


def test_a_second_start_waits_for_the_first():
    order = []
    ahead = Lookahead()
    ahead.start(lambda: order.append("first"))
    ahead.start(lambda: order.append("second"))
    ahead.settle()
    assert order == ["first", "second"] and ahead.started == 2


def test_an_error_in_the_background_is_logged_not_raised(caplog):
    ahead = Lookahead()
    with caplog.at_level(logging.WARNING, logger="harness.execution.lookahead"):
        ahead.start(lambda: 1 / 0)
        ahead.settle()
    assert "look-ahead call failed (ZeroDivisionError" in caplog.text


def test_worthwhile_only_where_the_pipeline_leaves_cpus_idle(monkeypatch):
    import torch

    assert lookahead.worthwhile("cuda:0")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert lookahead.worthwhile("cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert not lookahead.worthwhile("cpu")


@pytest.fixture
def calls(monkeypatch) -> list:
    """Every inpaint_batch call: (thread name, strength, seeds); the stand-in for strength 0.9 fails."""
    made = []
    batch = Inpainter.inpaint_batch

    def inpaint_batch(self, images, masks, *, strength, seeds, **kwargs):
        made.append((threading.current_thread().name, strength, tuple(seeds)))
        if os.environ.get("LOOKAHEAD_TEST_FAIL") and strength == 0.9:
            raise RuntimeError("the pipeline broke at strength 0.9")
        return batch(self, images, masks, strength=strength, seeds=seeds, **kwargs)

    monkeypatch.setattr(Inpainter, "inpaint_batch", inpaint_batch)
    return made


def _rows(project, run_id):
    return Store(project.path / "reports" / "leakage.sqlite").frame(run_id)[COMPARED]


class _JoinedByItemEnd:
    """Fails the run if a look-ahead call outlives the item that started it."""

    @staticmethod
    def pytest_runtest_logfinish(nodeid):
        running = [t for t in threading.enumerate() if t.name == "leakage-lookahead"]
        assert not running, f"a look-ahead call still runs after {nodeid}"


def _two_runs(project, monkeypatch, calls, *args):
    """The same selection without and with look-ahead: (rows, calls) of each."""
    monkeypatch.setattr(lookahead, "worthwhile", lambda device: False)
    project.runpytest("benchmarks", *args, *FAST)
    alone = list(calls)
    monkeypatch.setattr(lookahead, "worthwhile", lambda device: True)
    calls.clear()
    result = project.runpytest("benchmarks", *args, *FAST, plugins=[_JoinedByItemEnd()])
    runs = Store(project.path / "reports" / "leakage.sqlite").runs().run_id.tolist()
    return result, (_rows(project, runs[0]), alone), (_rows(project, runs[1]), list(calls))


def test_rows_and_calls_are_the_same_with_and_without_look_ahead(leak_project, monkeypatch, calls):
    result, (rows_alone, calls_alone), (rows_ahead, calls_ahead) = _two_runs(leak_project, monkeypatch, calls,
                                                                             "-k", "floor or radius or strength")
    result.assert_outcomes(passed=19, skipped=8)
    assert all(thread == "MainThread" for thread, *_ in calls_alone)
    # every batched call ran during an earlier case's metrics: the first during the floor case's
    # (which makes a call of its own, the round trip), the others passing over the copies (the
    # radius cases at r 0.80 are strength cases again) and the skipped strengths
    main = [call for call in calls_ahead if call[0] != "leakage-lookahead"]
    assert main == [] and calls_ahead, main
    assert sorted(c[1:] for c in calls_ahead) == sorted(c[1:] for c in calls_alone)  # no call more, none less
    assert rows_ahead.equals(rows_alone)


def test_a_failing_look_ahead_call_fails_its_own_case_alone(leak_project, monkeypatch, calls):
    monkeypatch.setenv("LOOKAHEAD_TEST_FAIL", "1")
    result, (rows_alone, _), (rows_ahead, calls_ahead) = _two_runs(leak_project, monkeypatch, calls, "-k", "radius")
    result.assert_outcomes(passed=5, failed=5, skipped=5)
    assert any(thread == "leakage-lookahead" and strength == 0.9 for thread, strength, _ in calls_ahead)
    assert rows_ahead.equals(rows_alone)
    failed = rows_ahead[rows_ahead.status == "failed"]
    assert len(failed) == 5 and failed.message.str.contains("the pipeline broke at strength 0.9").all()


class _Item:
    def __init__(self, session, name, skip=False):
        self.session, self.name, self.skip = session, name, skip

    def get_closest_marker(self, name):
        return object() if name == "skip" and self.skip else None


def _session(*names, skipped=()):
    from types import SimpleNamespace

    session = SimpleNamespace(stash=pytest.Stash(), items=[])
    session.items = [_Item(session, name, skip=name in skipped) for name in names]
    return session


def test_upcoming_cases_follow_session_items_past_the_next_one():
    session = _session(*"abcdefghijklm", skipped="d")
    a, b = session.items[:2]
    upcoming = lookahead.upcoming_cases(a, b, lambda it: it.name.upper(), in_order=True)
    assert upcoming == ["B", "C", None, "E", "F", "G", "H", "I"]  # SCAN items; a skipped one is None
    assert len(upcoming) == lookahead.SCAN
    last = session.items[-1]
    assert lookahead.upcoming_cases(last, None, lambda it: it.name, in_order=True) == []


def test_upcoming_cases_assume_nothing_past_the_next_item_out_of_order_or_on_a_worker():
    session = _session(*"abcde")
    a, b, c = session.items[:3]
    name = lambda it: it.name  # noqa: E731
    assert lookahead.upcoming_cases(a, b, name, in_order=False) == ["b"]  # an xdist worker
    assert lookahead.upcoming_cases(a, c, name, in_order=True) == ["c"]  # pytest runs another order


def test_an_idle_task_runs_while_waiting_for_the_call_once_and_a_failing_one_is_logged(caplog):
    release, order = threading.Event(), []

    def fails():
        release.set()
        raise ZeroDivisionError("no head start")

    # each task releases the call it runs beside: the call cannot finish before the task runs
    tasks = [lambda: (order.append("task"), release.set()), fails]
    ahead = Lookahead(tasks)
    ahead.start(lambda: (release.wait(), order.append("call")))
    ahead.settle()
    assert order == ["task", "call"] and len(tasks) == 1
    ahead.start(lambda: order.append("quick"))
    ahead._thread.join()  # finished before it is settled: nothing to wait for, so no task runs
    ahead.settle()
    assert len(tasks) == 1
    release.clear()
    with caplog.at_level(logging.WARNING, logger="harness.execution.lookahead"):
        ahead.start(release.wait)
        ahead.settle()
    assert tasks == [] and "task while waiting for the look-ahead failed (ZeroDivisionError" in caplog.text
