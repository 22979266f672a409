"""A case's outcome from pytest's reports: its status, its message, and the case of a crashed worker.

Each phase of a test (setup, call, teardown) sends a report; :func:`phase_status` says which of
them decide the case's status. When an xdist worker dies mid-case (killed, out of memory, a
segfault in a native library), pytest-xdist sends one report for the case it was running, made on
the controller without the ``user_properties`` a worker attaches, so the case is found again from
what the controller knows: the case the setup report announced, or the id in the node id.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import pytest

from harness.cases import EXPERIMENTS, Case

__all__ = ["phase_status", "failure_message", "case_from_nodeid", "count_cases", "CRASHED"]

#: The status of a case whose process died while running it (it also reads ``error`` in pytest).
CRASHED = "error"

_PARAM_ID = re.compile(r"\[(?P<id>[^\[\]]+)\]$")


def phase_status(report: pytest.TestReport) -> str | None:
    """The case's status from one phase's report, or ``None`` when this phase decides nothing."""
    if report.when == "call":
        return report.outcome
    if report.when == "setup" and report.outcome != "passed":
        return "skipped" if report.outcome == "skipped" else "error"
    if report.when == "teardown" and report.outcome == "failed":
        return "error"
    return None


def failure_message(report: pytest.TestReport) -> str:
    """The one line that says what went wrong: the skip reason, or the message of the exception
    that ended the test. For a chained exception that is the last one raised (pytest's
    ``reprcrash``), which is the one that says what failed (``x.png is not a readable image``),
    not its innermost cause (``struct.error: ...``)."""
    if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        # pytest.fail() adds "Failed: "; the case's own message is what follows
        return crash.message.removeprefix("Failed: ").strip()[:2000]
    lines = [ln for ln in (report.longreprtext or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ")]
    return (errors[0][1:].strip() if errors else (lines[-1] if lines else ""))[:2000]


def case_from_nodeid(nodeid: str, cases: Callable[[str], Iterable[Case]]) -> Case | None:
    """The case a node id such as ``benchmarks/test_strength.py::test_strength[coffee-s0.60-r0.80-seed0]``
    ran, from ``cases(experiment)``; ``None`` when no single case matches.

    The parameter id is the case id. A case id can occur in two experiments (strength 0.5 at
    radius 0.8 is in the strength and the radius sweeps); the test's name then decides, as the
    benchmarks are ``test_<experiment>``.
    """
    match = _PARAM_ID.search(nodeid)
    if match is None:
        return None
    found = [case for experiment in EXPERIMENTS for case in cases(experiment) if case.case_id == match["id"]]
    if len(found) > 1:
        name = nodeid.split("::")[-1].split("[")[0]
        found = [case for case in found if name == f"test_{case.experiment}"]
    return found[0] if len(found) == 1 else None


def count_cases(nodeids: Iterable[str], cases: Callable[[str], Iterable[Case]]) -> int:
    """How many of ``nodeids`` (what an xdist worker collected) are cases of ``cases(experiment)``:
    those whose parameter id is a case id (other tests, such as the latency ones, are not)."""
    known = {case.case_id for experiment in EXPERIMENTS for case in cases(experiment)}
    return sum(1 for nodeid in nodeids if (match := _PARAM_ID.search(nodeid)) and match["id"] in known)
