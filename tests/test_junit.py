"""JUnit XML: one property per metric where the junit_family allows it, and no warnings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from harness.junit import metric_properties

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider",
        "--leak-no-report", "-k", "floor or (strength and (s0.00 or s1.00))"]


def _suite(path):
    return ET.parse(path).getroot().find("testsuite")


def test_xunit2_gets_suite_properties_and_no_warning(leak_project):
    result = leak_project.runpytest("benchmarks", *FAST, "--junitxml=out.xml", "-W", "error::pytest.PytestWarning")
    result.assert_outcomes(passed=2, skipped=1)
    assert "warnings summary" not in result.stdout.str()
    suite = _suite(leak_project.path / "out.xml")
    names = [p.get("name") for p in suite.iterfind("properties/property")]
    assert "floor/coffee-r0.80:mse_outside" in names and "strength/coffee-s1.00-r0.80-seed0:changed_frac" in names
    assert not any(n.startswith("strength/coffee-s0.00") for n in names)  # skipped: nothing measured
    assert not any(case.find("properties") is not None for case in suite.iterfind("testcase"))
    assert "leakage_row" not in (leak_project.path / "out.xml").read_text()  # the transport stays out


def test_xunit1_gets_testcase_properties(leak_project):
    result = leak_project.runpytest("benchmarks", *FAST, "--junitxml=out.xml", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=2, skipped=1)
    suite = _suite(leak_project.path / "out.xml")
    assert suite.find("properties") is None
    floor = next(c for c in suite.iterfind("testcase") if c.get("name") == "test_floor[coffee-r0.80]")
    properties = {p.get("name"): float(p.get("value")) for p in floor.iterfind("properties/property")}
    assert set(properties) >= {"mse_outside", "psnr_outside", "mae_outside", "n_outside", "seconds"}


def test_metric_properties_keep_finite_numbers_only():
    row = {"mse_outside": 0.0, "psnr_outside": float("inf"), "mae_outside": None, "n_outside": 10, "seconds": 0.1}
    assert metric_properties(row) == [("mse_outside", 0.0), ("n_outside", 10), ("seconds", 0.1)]
    assert metric_properties(None) == []

