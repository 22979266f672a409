"""The baseline lifecycle and thresholds as users meet them: pytester runs of this repo's benchmarks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from harness.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider",
        "--leak-no-report", "-k", "(s0.60 or s1.00 or s0.90-r0.50 or floor) and not mitigation"]


def _junit(path):
    """The JUnit file's suite: its attributes, suite properties, and testcases by name."""
    suite = ET.parse(path).getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iterfind("properties/property")}
    return suite.attrib, properties, {case.get("name"): case for case in suite.iterfind("testcase")}


def test_save_compare_regress_update_compare(leak_project, monkeypatch):
    baseline = leak_project.path / "baselines" / "tiny-fast.json"
    obtained = leak_project.path / "baselines" / "tiny-fast.obtained.json"
    step_summary = leak_project.path / "github-step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))

    saved = leak_project.runpytest("benchmarks", *FAST, "--leak-save-baseline", "tiny-fast")
    assert saved.ret == pytest.ExitCode.OK
    document = json.loads(baseline.read_text())
    assert sorted(document["cases"]) == ["floor/coffee-r0.80", "radius/coffee-s0.90-r0.50-seed0",
                                         "strength/coffee-s0.60-r0.80-seed0", "strength/coffee-s1.00-r0.80-seed0"]
    assert document["schema"] == 2 and document["seeds"] == [0]
    assert document["preset"] == "smoke" and document["fingerprint"]["denoiser"]["in_channels"] == 4
    assert document["machine"]["python"] and "git_commit" in document["machine"]

    same = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast")
    assert same.ret == pytest.ExitCode.OK
    same.stdout.fnmatch_lines(["*baseline 'tiny-fast' (*): passed, 4 cases compared, 0 worse beyond tolerance*",
                               "aggregate per (experiment, strength)*",
                               "*strength s=1 * mse_outside * 1 * +0.0% * [[]+0.0%, +0.0%[]] * +10% * within"])
    assert not obtained.exists()

    # the 9-channel UNet regenerates everything and pastes nothing back: leakage rises, and each
    # case beyond tolerance fails as a test, in pytest's last line and in the JUnit file
    xml = leak_project.path / "junit.xml"
    worse = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline", "tiny-9ch",
                                   f"--junitxml={xml}", "--leak-summary-md", "summary.md")
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = worse.parseoutcomes()
    assert outcomes["failed"] >= 2 and outcomes["failed"] + outcomes.get("passed", 0) == 4
    worse.stdout.fnmatch_lines([
        "*baseline 'tiny-fast' (*): FAILED, 4 cases compared, * worse beyond tolerance*",
        "*strength/coffee-s1.00-r0.80-seed0*mse_outside*",
        "aggregate per (experiment, strength)*",
        "*strength s=1 * mse_outside * 1 * WORSE",
        "*fingerprint differs from the baseline's: *denoiser.in_channels 4 -> 9*",
        "*wrote *tiny-fast.obtained.json; if the change is intended, accept it with "
        "`pytest benchmarks --leak-images coffee * --leak-pipeline tiny-9ch * "
        "--leak-compare tiny-fast --leak-update-baseline`*",
        "*FAILED benchmarks/test_strength.py::test_strength[[]coffee-s1.00-r0.80-seed0[]]*",
    ])
    # the test's own failure is one line: metric, baseline, now, change, tolerance
    worse.stdout.fnmatch_lines(["*coffee-s1.00-r0.80-seed0: worse than baseline 'tiny-fast': mse_outside baseline *, "
                                "now *, change +* (+*%), tolerance +10% or +1*"])
    assert "warnings summary" not in worse.stdout.str() and "PytestWarning" not in worse.stdout.str()
    attributes, properties, cases = _junit(xml)
    assert int(attributes["failures"]) == outcomes["failed"]
    assert cases["test_strength[coffee-s1.00-r0.80-seed0]"].find("failure") is not None
    row = Store(leak_project.path / "reports" / "leakage.sqlite").frame().set_index("case_id")
    failing = row.loc["coffee-s1.00-r0.80-seed0"]
    assert failing.status == "failed" and "regression" in failing["flags"]  # recorded first, then failed
    assert float(properties["strength/coffee-s1.00-r0.80-seed0:mse_outside"]) == pytest.approx(failing.mse_outside)
    assert all(case.find("properties") is None for case in cases.values())  # xunit2: no testcase properties
    assert json.loads(obtained.read_text())["fingerprint"]["denoiser"]["in_channels"] == 9
    summary = (leak_project.path / "summary.md").read_text()
    assert "| strength s=1 | mse_outside | 1 |" in summary and "**worse**" in summary
    assert step_summary.read_text().count("### Inpainting leakage") == 3  # every run appended its part

    updated = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline",
                                     "tiny-9ch", "--leak-update-baseline")
    assert updated.ret == pytest.ExitCode.OK
    updated.stdout.fnmatch_lines(["*baseline 'tiny-fast' rewritten from this run (4 cases)*"])
    again = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline", "tiny-9ch")
    assert again.ret == pytest.ExitCode.OK


def test_seed_shift_is_judged_by_the_aggregate_alone(leak_project):
    """Seeds 100-102 against a baseline of seeds 0-2: no case has a counterpart, so no per-case
    verdict; the same pipeline passes on the aggregate, the 9-channel one fails on it."""
    args = ["--leak-images", "coffee,astronaut", *FAST[2:-2], "-k", "strength and (s0.60 or s1.00)"]
    assert leak_project.runpytest("benchmarks", *args, "--leak-seeds", "3",
                                  "--leak-save-baseline", "seeds").ret == pytest.ExitCode.OK
    shifted = ["--leak-seed", "100", "--leak-seeds", "3", "--leak-compare", "seeds"]

    same = leak_project.runpytest("benchmarks", *args, *shifted)
    assert same.ret == pytest.ExitCode.OK
    same.assert_outcomes(passed=12)
    same.stdout.fnmatch_lines([
        "*baseline 'seeds' (*): passed, 0 cases compared, * aggregate: 0 of 2 groups worse",
        "per-case verdicts are impossible for 12 cases: the baseline holds seeds 0-2, this run measured "
        "100-102; the aggregate decides for them",
        "*strength s=0.6 * mse_outside * 6 * within", "*strength s=1 * mse_outside * 6 * within",
    ])

    other = leak_project.runpytest("benchmarks", *args, *shifted, "--leak-pipeline", "tiny-9ch")
    assert other.ret == pytest.ExitCode.TESTS_FAILED
    other.assert_outcomes(passed=12)  # no case could be judged alone: the aggregate fails the session
    other.stdout.fnmatch_lines(["*baseline 'seeds' (*): FAILED, 0 cases compared, * aggregate: * of 2 groups worse",
                                "*strength s=1 * mse_outside * 6 * WORSE"])


@pytest.mark.parametrize("content, message", [
    (None, "*leakage: baseline 'b' does not exist at *b.json; write it with `pytest benchmarks * "
           "--leak-save-baseline b` (or `leakage baseline save b`)"),
    ("{oops", "*leakage: baseline *b.json is not valid JSON*"),
    ({"preset": "paper"}, "*leakage: baseline *b.json was recorded with preset 'paper', this run uses 'smoke'*"),
    ({"options": {"steps": 10, "max_side": 64}}, "*measured under other settings: steps 10 -> 4*"),
    ({"value": float("nan")}, "*case 'strength/coffee-s0.60-r0.80-seed0' metric mse_outside is NaN; "
                              "every metric value must be a finite number*"),
    ({"value": None}, "*case 'strength/coffee-s0.60-r0.80-seed0' metric mse_outside is null*"),
    ({"value": "12.5"}, "*case 'strength/coffee-s0.60-r0.80-seed0' metric mse_outside is '12.5', not a number*"),
])
def test_a_bad_baseline_stops_pytest_before_any_case_runs(leak_project, content, message):
    path = leak_project.path / "baselines" / "b.json"
    path.parent.mkdir()
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        content = dict(content)
        document = {"schema": 2, "name": "b", "preset": "smoke", "options": {"steps": 4, "max_side": 64, "paste_back": False,
                                                                "guidance_scale": 0.0, "prompt": "", "scheduler": "PNDM"},
                    "cases": {"strength/coffee-s0.60-r0.80-seed0": {
                        "experiment": "strength", "case_id": "coffee-s0.60-r0.80-seed0", "seed": 0,
                        "metrics": {"mae_outside": 3.0, "mse_outside": content.pop("value", 12.5)}}}}
        document["options"].update(content.pop("options", {}))
        document.update(content)
        path.write_text(json.dumps(document))
    result = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert not (leak_project.path / "reports").exists()  # nothing ran, no run was recorded


def test_threshold_over_limit_fails_the_case_with_its_numbers(leak_project):
    result = leak_project.runpytest("benchmarks", *FAST, "--leak-max", "mse_outside=0.001")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*coffee-s1.00-r0.80-seed0: mse_outside = * > limit 0.001 (--leak-max)*"])


def test_threshold_config_errors_are_reported_at_start(leak_project):
    leak_project.makefile(".toml", pyproject="[tool.pytest.ini_options]\n[[tool.leakage.thresholds]]\n"
                                             'metric = "mse_outside"\nmax = "sixty"\n')
    result = leak_project.runpytest("benchmarks", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[][[]tool.leakage.thresholds[]][]] #1 max must be a number, got 'sixty'*"])


@pytest.mark.parametrize("args, message", [
    (["--leak-update-baseline"], "*--leak-update-baseline rewrites the baseline named by --leak-compare NAME*"),
    (["--leak-compare", "a", "--leak-save-baseline", "a"], "*both name 'a'*"),
    (["--leak-max", "mse=1"], "*unknown metric 'mse'*"),
])
def test_conflicting_gate_options_are_usage_errors(leak_project, args, message):
    result = leak_project.runpytest("benchmarks", "--collect-only", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_failing_comparison_reaches_the_report(leak_project):
    leak_project.runpytest("benchmarks", *FAST, "--leak-save-baseline", "b").assert_outcomes(passed=4)
    args = [a for a in FAST if a != "--leak-no-report"]
    result = leak_project.runpytest("benchmarks", *args, "--leak-compare", "b", "--leak-pipeline", "tiny-9ch")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    html = (leak_project.path / "reports" / "leakage.html").read_text(encoding="utf-8")
    assert "Comparison with baseline" in html and "Aggregate per experiment and strength" in html
    failing = result.stdout.str().split("FAILED, 4 cases compared, ")[1].split(" worse")[0]
    assert f"{failing} failing checks" in html  # the same count the terminal gave
    assert "Machine</h3>" in html


def test_per_case_verdicts_under_xdist(leak_project):
    """Workers judge their cases with the baseline values the controller checked and sent."""
    assert leak_project.runpytest("benchmarks", *FAST, "--leak-save-baseline", "b").ret == pytest.ExitCode.OK
    result = leak_project.runpytest_subprocess("benchmarks", *FAST, "-n", "2", "--leak-compare", "b",
                                               "--leak-pipeline", "tiny-9ch")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILED benchmarks/test_strength.py::test_strength[[]coffee-s1.00-r0.80-seed0[]]*"])
    assert Store(leak_project.path / "reports" / "leakage.sqlite").frame().status.value_counts()["failed"] >= 1
