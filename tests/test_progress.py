"""The progress line: counting, rate and ETA, and when a line is due, on a fake clock; and the
lines a real session prints."""

from __future__ import annotations

import re

import pytest

from harness.progress import PLAIN_SECONDS, TERMINAL_SECONDS, Progress, ProgressState, format_duration

FAST = ["--leak-max-side", "32", "--leak-steps", "2", "--leak-artifacts", "none",
        "--leak-no-report", "-p", "no:cacheprovider"]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _finish(progress: Progress, clock: FakeClock, names, *, every: float = 0.0, failed=()) -> list[str | None]:
    lines = []
    for name in names:
        clock.now += every
        lines.append(progress.report(name, failed=name in failed, finished=True))
    return lines


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (7.4, "0:07"), (59.6, "1:00"), (750, "12:30"),
                                           (11055, "3:04:15"), (-3, "0:00")])
def test_durations_read_as_clock_times(seconds, text):
    assert format_duration(seconds) == text


def test_rate_and_eta_from_the_cases_done_so_far():
    state = ProgressState(done=40, total=100, failed=2, elapsed=20.0)
    assert state.rate == 2.0
    assert state.eta == 30.0
    assert state.line() == "leakage: 40/100 cases (40%), 2 failed, 2 cases/s, elapsed 0:20, ETA 0:30"


def test_no_rate_or_eta_before_the_first_case():
    state = ProgressState(done=0, total=10, failed=0, elapsed=5.0)
    assert state.rate is None and state.eta is None
    assert state.line().endswith("– cases/s, elapsed 0:05, ETA –")


def test_plain_output_gets_a_line_at_every_tenth_of_the_cases():
    clock = FakeClock()
    progress = Progress(40, terminal=False, clock=clock)
    lines = _finish(progress, clock, [f"c{i}" for i in range(40)], every=0.1)
    due = [i + 1 for i, line in enumerate(lines) if line]
    assert due == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert lines[-1].startswith("leakage: 40/40 cases (100%), 0 failed")


def test_plain_output_gets_a_line_every_thirty_seconds_between_tenths():
    clock = FakeClock()
    progress = Progress(1000, terminal=False, clock=clock)
    lines = _finish(progress, clock, [f"c{i}" for i in range(60)], every=PLAIN_SECONDS / 10)  # 3 s a case
    due = [i + 1 for i, line in enumerate(lines) if line]
    assert due == [10, 20, 30, 40, 50, 60]  # 30 s apart; no tenth of 1000 reached


def test_a_terminal_gets_a_line_every_ten_seconds_and_at_the_end():
    clock = FakeClock()
    progress = Progress(40, terminal=True, clock=clock)
    lines = _finish(progress, clock, [f"c{i}" for i in range(40)], every=TERMINAL_SECONDS / 4)
    due = [i + 1 for i, line in enumerate(lines) if line]
    assert due == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]  # by time, not by tenths
    clock2 = FakeClock()
    quick = Progress(40, terminal=True, clock=clock2)
    quick_lines = _finish(quick, clock2, [f"c{i}" for i in range(40)], every=0.01)
    assert [i + 1 for i, line in enumerate(quick_lines) if line] == [40]  # a short sweep: only the end


def test_each_case_counts_once_and_a_failure_in_any_phase_counts():
    clock = FakeClock()
    progress = Progress(3, terminal=False, clock=clock)
    clock.now += 1
    progress.report("a", failed=False, finished=False)  # setup
    progress.report("a", failed=True, finished=False)  # call failed
    progress.report("a", failed=False, finished=True)  # teardown
    progress.report("a", failed=False, finished=True)  # a repeated report changes nothing
    state = progress.state()
    assert (state.done, state.failed) == (1, 1)
    assert state.rate == 1.0 and state.eta == 2.0


def test_finished_once_every_counted_case_has_ended():
    clock = FakeClock()
    progress = Progress(2, terminal=False, clock=clock)
    _finish(progress, clock, ["a"])
    assert not progress.finished
    _finish(progress, clock, ["b"])
    assert progress.finished


def test_the_last_line_follows_pytests_own_100_percent(leak_project):
    result = leak_project.runpytest("benchmarks", "-k", "floor", "--leak-images", "coffee", *FAST)
    last = next(i for i, line in enumerate(result.outlines) if line.startswith("leakage: 1/1 cases"))
    assert result.outlines[last - 1].endswith("[100%]")


def test_more_cases_than_counted_grow_the_total():
    clock = FakeClock()
    progress = Progress(1, terminal=False, clock=clock)
    _finish(progress, clock, ["a", "b"], every=1)
    assert (progress.state().done, progress.state().total) == (2, 2)


def test_a_negative_total_is_refused():
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress(-1, terminal=False)


_LINE = re.compile(r"^leakage: (\d+)/(\d+) cases \(\d+%\), (\d+) failed, .* cases/s, elapsed \d+:\d\d, ETA .*$")


def _progress_lines(result) -> list[tuple[int, int, int]]:
    return [tuple(map(int, m.groups())) for line in result.outlines if (m := _LINE.match(line))]


def test_a_session_not_on_a_terminal_prints_plain_progress_lines(leak_project):
    result = leak_project.runpytest("benchmarks", "-k", "strength", "--leak-images", "coffee", *FAST)
    result.assert_outcomes(passed=6, skipped=5)
    lines = _progress_lines(result)
    # a line at each tenth of 11 cases: the first case is 9 %, each one after it a new tenth
    assert [done for done, _, _ in lines] == list(range(2, 12))
    assert lines[-1] == (11, 11, 0)


@pytest.mark.parametrize("args", [("--leak-progress", "off"), ("-qq",)])
def test_progress_off_and_qq_print_no_progress(leak_project, args):
    result = leak_project.runpytest("benchmarks", "-k", "floor", "--leak-images", "coffee", *FAST, *args)
    assert result.ret == 0
    assert _progress_lines(result) == []


def test_under_xdist_the_controller_counts_every_workers_cases(leak_project):
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "floor", *FAST, "-n", "2",
                                               "--leak-images", "coffee,astronaut")
    result.assert_outcomes(passed=2)
    assert _progress_lines(result)[-1] == (2, 2, 0)
