"""The run's summary for the terminal and as Markdown (``--leak-summary-md``, GitHub's step summary)."""

from __future__ import annotations

import pytest

from harness import run_summary

ROWS = {
    ("strength", "a"): {"case_id": "a", "status": "passed", "mse_outside": 10.0, "seconds": 0.5},
    ("strength", "b"): {"case_id": "b", "status": "failed", "mse_outside": 30.0, "seconds": 1.5},
    ("strength", "c"): {"case_id": "c", "status": "skipped"},
    ("floor", "f"): {"case_id": "f", "status": "error", "mse_outside": float("nan")},
}


def test_summaries_per_experiment():
    floor, strength = run_summary.summarize(ROWS)
    assert (floor.experiment, floor.cases, floor.mean, floor.seconds) == ("floor", 1, None, None)
    assert strength.counts == {"passed": 1, "failed": 1, "skipped": 1}
    assert (strength.mean, strength.worst, strength.worst_case, strength.seconds) == (20.0, 30.0, "b", 1.0)
    assert run_summary.terminal_lines([strength]) == [
        "strength      3 cases (1 failed, 1 passed, 1 skipped)  mse_outside mean 20.00, worst 30.00 (b)  1.000 s/case"]


def test_markdown_has_the_table_and_the_gate():
    text = run_summary.markdown(run_summary.summarize(ROWS), run_id="r1", store="s.sqlite",
                                gate=["FAILED: baseline 'x' | y"])
    assert text.startswith("### Inpainting leakage\n")
    assert "| strength | 3 | 1 failed, 1 passed, 1 skipped | 20.00 | 30.00 (`b`) | 1.000 |" in text
    assert "| floor | 1 | 1 error | – | – | – |" in text
    assert text.endswith("- FAILED: baseline 'x' | y\n")


def test_github_step_summary_is_appended_when_set(tmp_path):
    target = tmp_path / "step.md"
    target.write_text("earlier step\n")
    assert run_summary.append_github_summary("mine", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert target.read_text() == "earlier step\nmine\n"
    assert run_summary.append_github_summary("mine", {}) is None


def test_an_unwritable_summary_is_reported_by_the_session(leak_project):
    (leak_project.path / "taken").mkdir()
    result = leak_project.runpytest("benchmarks", "--leak-images", "coffee", "--leak-max-side", "64",
                                    "--leak-steps", "4", "-k", "floor", "--leak-no-report",
                                    "--leak-summary-md", "taken")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the case passed; the summary could not be written
    result.stdout.fnmatch_lines(["*summary NOT written: *taken*"])
