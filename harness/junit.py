"""One JUnit XML property per metric of every measured case, valid in the ``junit_family`` in use.

Rows travel from the workers in ``report.user_properties`` (JSON blobs), and pytest's junitxml
writes a report's user properties into its ``<testcase>``. The xunit2 family (pytest's default)
has no ``<properties>`` in a testcase, which is why ``record_property`` warns there; it does allow
them on the ``<testsuite>`` (what ``record_testsuite_property`` writes). So, on a case's last report
(teardown), the transport blobs are dropped and its metrics are written

* under xunit2 as suite properties named ``<experiment>/<case id>:<metric>``;
* under xunit1 / legacy as testcase properties named ``<metric>``, as ``record_property`` would.
"""

from __future__ import annotations

import math

import pytest

# the LogXML object that record_testsuite_property also writes to; pytest keeps it under this key
from _pytest.junitxml import xml_key

from harness.metrics import METRIC_NAMES
from harness.transport import TRANSPORT_KEYS

__all__ = ["record_metrics", "metric_properties"]


def metric_properties(row: dict | None) -> list[tuple[str, float]]:
    """``(metric, value)`` for every finite metric of a row (none for an unmeasured case)."""
    if not row:
        return []
    out = []
    for metric in (*METRIC_NAMES, "seconds"):
        value = row.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append((metric, value))
    return out


def record_metrics(config: pytest.Config, report: pytest.TestReport, row: dict | None) -> None:
    """Replace the transport properties of ``report`` by the row's metrics (see the module)."""
    if not any(name in TRANSPORT_KEYS for name, _ in report.user_properties):
        return
    report.user_properties = [(n, v) for n, v in report.user_properties if n not in TRANSPORT_KEYS]
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    metrics = metric_properties(row)
    if xml.family == "xunit1":  # "legacy" is stored as xunit1
        report.user_properties.extend(metrics)
    else:
        case = f"{row['experiment']}/{row['case_id']}" if metrics else ""
        for metric, value in metrics:
            xml.add_global_property(f"{case}:{metric}", value)
