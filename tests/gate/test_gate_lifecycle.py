"""The baseline lifecycle and thresholds as users meet them: pytester runs of this repo's benchmarks."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider",
        "--leak-no-report", "-k", "s0.60 or s1.00 or s0.90-r0.50 or floor"]


def test_save_compare_regress_update_compare(leak_project):
    baseline = leak_project.path / "baselines" / "tiny-fast.json"
    obtained = leak_project.path / "baselines" / "tiny-fast.obtained.json"

    missing = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast")
    assert missing.ret == pytest.ExitCode.TESTS_FAILED
    missing.stdout.fnmatch_lines(["*FAILED: baseline 'tiny-fast' does not exist at *tiny-fast.json; write it with "
                                  "`pytest benchmarks --leak-images coffee * --leak-save-baseline tiny-fast`*"])

    saved = leak_project.runpytest("benchmarks", *FAST, "--leak-save-baseline", "tiny-fast")
    assert saved.ret == pytest.ExitCode.OK
    document = json.loads(baseline.read_text())
    assert sorted(document["cases"]) == ["floor/coffee-r0.80", "radius/coffee-s0.90-r0.50-seed0",
                                         "strength/coffee-s0.60-r0.80-seed0", "strength/coffee-s1.00-r0.80-seed0"]
    assert document["preset"] == "smoke" and document["fingerprint"]["unet_in_channels"] == 4

    same = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast")
    assert same.ret == pytest.ExitCode.OK
    same.stdout.fnmatch_lines(["*baseline 'tiny-fast' (*): passed, 4 cases compared, 0 worse beyond tolerance*"])
    assert not obtained.exists()

    # the 9-channel UNet regenerates everything and pastes nothing back: leakage rises
    worse = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline", "tiny-9ch")
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.assert_outcomes(passed=4)  # every case ran fine: the gate alone fails the session
    worse.stdout.fnmatch_lines([
        "*baseline 'tiny-fast' (*): FAILED, 4 cases compared, * worse beyond tolerance*",
        "*strength/coffee-s1.00-r0.80-seed0*mse_outside*",
        "*fingerprint differs from the baseline's: *unet_in_channels 4 -> 9*",
        "*wrote *tiny-fast.obtained.json; if the change is intended, accept it with "
        "`pytest benchmarks --leak-images coffee * --leak-pipeline tiny-9ch * "
        "--leak-compare tiny-fast --leak-update-baseline`*",
    ])
    assert json.loads(obtained.read_text())["fingerprint"]["unet_in_channels"] == 9

    updated = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline",
                                     "tiny-9ch", "--leak-update-baseline")
    assert updated.ret == pytest.ExitCode.OK
    updated.stdout.fnmatch_lines(["*baseline 'tiny-fast' rewritten from this run (4 cases)*"])
    again = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "tiny-fast", "--leak-pipeline", "tiny-9ch")
    assert again.ret == pytest.ExitCode.OK


def test_a_corrupt_baseline_is_a_clear_failure_not_a_traceback(leak_project):
    (leak_project.path / "baselines").mkdir()
    (leak_project.path / "baselines" / "broken.json").write_text("{oops")
    result = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "broken")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILED: baseline *broken.json is not valid JSON*"])
    assert "Traceback" not in result.stdout.str()


def test_a_baseline_of_another_preset_is_refused(leak_project):
    (leak_project.path / "baselines").mkdir()
    (leak_project.path / "baselines" / "paper.json").write_text(
        json.dumps({"schema": 1, "name": "paper", "preset": "paper", "options": {}, "cases": {}}))
    result = leak_project.runpytest("benchmarks", *FAST, "--leak-compare", "paper")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILED: baseline *paper.json was recorded with preset 'paper', this run uses 'smoke'*"])


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
    assert "Comparison with baseline" in html
    failing = result.stdout.str().split("FAILED, 4 cases compared, ")[1].split(" worse")[0]
    assert f"{failing} failing checks" in html  # the same count the terminal gave
