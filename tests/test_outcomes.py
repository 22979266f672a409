"""A case's status and message from pytest's reports, and the case of a crashed worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.cases import PRESETS, build_cases, resolve_images
from harness.outcomes import case_from_nodeid, failure_message


def _cases(experiment):
    return build_cases(experiment, PRESETS["smoke"], resolve_images(["coffee"]), steps=4, seeds=[0])


def test_a_crashed_case_is_found_from_its_node_id():
    case = case_from_nodeid("benchmarks/test_strength.py::test_strength[coffee-s0.60-r0.80-seed0]", _cases)
    assert (case.experiment, case.case_id) == ("strength", "coffee-s0.60-r0.80-seed0")
    floor = case_from_nodeid("benchmarks/test_floor.py::test_floor[coffee-r0.80]", _cases)
    assert (floor.experiment, floor.strength) == ("floor", None)


def test_a_case_id_of_two_experiments_is_told_apart_by_the_test_name():
    # strength 0.5 at radius 0.8 is in both sweeps
    nodeid = "benchmarks/{0}.py::{0}[coffee-s0.50-r0.80-seed0]"
    assert case_from_nodeid(nodeid.format("test_strength"), _cases).experiment == "strength"
    assert case_from_nodeid(nodeid.format("test_radius"), _cases).experiment == "radius"
    assert case_from_nodeid("benchmarks/mine.py::test_other[coffee-s0.50-r0.80-seed0]", _cases) is None


@pytest.mark.parametrize("nodeid", ["benchmarks/test_latency.py::test_inpaint_latency[latency-light]",
                                    "benchmarks/test_strength.py::test_strength", "tests/test_x.py::test_y[1]"])
def test_node_ids_of_no_case_give_none(nodeid):
    assert case_from_nodeid(nodeid, _cases) is None


def test_the_message_is_the_last_exception_raised_not_its_cause():
    crash = SimpleNamespace(message="ValueError: /data/trunc.png is not a readable image file (struct.error: x)")
    report = SimpleNamespace(outcome="failed", longrepr=SimpleNamespace(reprcrash=crash),
                             longreprtext="E   struct.error: unpack_from requires a buffer\n...")
    assert failure_message(report) == crash.message


def test_the_message_of_pytest_fail_drops_its_prefix_and_a_text_report_gives_its_last_line():
    failed = SimpleNamespace(outcome="failed", longrepr=SimpleNamespace(reprcrash=SimpleNamespace(
        message="Failed: coffee-s1.00-r0.80-seed0: output is a constant image")), longreprtext="")
    assert failure_message(failed) == "coffee-s1.00-r0.80-seed0: output is a constant image"
    crashed = SimpleNamespace(outcome="failed", longrepr="worker 'gw0' crashed while running 'x'",
                              longreprtext="worker 'gw0' crashed while running 'x'")
    assert failure_message(crashed) == "worker 'gw0' crashed while running 'x'"
