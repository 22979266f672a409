"""The run's report and summary files: where they go, and what a failure leaves.

The end-to-end behaviour (a report that cannot be written fails the run with exit code 1, the rows
kept) is tested through pytester in ``test_session_faults.py``; these are the unit-level rules.
"""

from pathlib import Path
from types import SimpleNamespace

from harness.run_outputs import RunOutputs


def _leak(tmp_path: Path, *, report="default", summary_md=None):
    return SimpleNamespace(
        gates=SimpleNamespace(report=None if report is None else ("" if report == "default" else report)),
        store=SimpleNamespace(path=tmp_path / "reports" / "leakage.sqlite"),
        run_id="RUN1", rows={}, gate_lines=[], options=SimpleNamespace(summary_md=summary_md),
        _rooted=lambda p: Path(p) if Path(p).is_absolute() else tmp_path / p)


def test_each_run_gets_its_own_report_beside_the_store_and_a_stable_latest_copy(tmp_path):
    own, latest = RunOutputs(_leak(tmp_path)).report_targets()
    assert own == tmp_path / "reports" / "leakage-RUN1.html"
    assert latest == tmp_path / "reports" / "leakage.html"


def test_an_explicit_report_path_is_written_alone(tmp_path):
    own, latest = RunOutputs(_leak(tmp_path, report="out/r.html")).report_targets()
    assert (own, latest) == (tmp_path / "out" / "r.html", None)


def test_no_report_asked_writes_nothing_and_succeeds(tmp_path):
    outputs = RunOutputs(_leak(tmp_path, report=None))
    assert outputs.write_report(None) is True
    assert outputs.report_path is None and outputs.lines() == []


def test_a_summary_that_cannot_be_written_is_one_line_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    outputs = RunOutputs(_leak(tmp_path, summary_md=str(blocked / "summary.md")))
    assert outputs.write_markdown(None) is False
    assert outputs.lines() == [f"summary NOT written: {outputs.summary_error}"]
    assert str(blocked) in outputs.summary_error


def test_a_written_summary_is_listed(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    outputs = RunOutputs(_leak(tmp_path, summary_md="summary.md"))
    assert outputs.write_markdown(None) is True
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").strip()
    assert outputs.lines() == [f"summary: {outputs.summary_path}"]


def test_the_report_is_given_the_cpu_snapshot_of_the_sessions_start(tmp_path, monkeypatch):
    # its worker count reads how busy other processes kept the machine over the whole session
    import harness.report
    from harness import cpu_load

    taken, passed = [], {}
    monkeypatch.setattr(cpu_load, "snapshot", lambda: taken.append("snapshot") or cpu_load.CpuTimes(1.0, 2.0, 3.0))

    def build_report(store, **kwargs):
        passed.update(kwargs)
        out = Path(kwargs["output"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("<html></html>", encoding="utf-8")
        return out

    monkeypatch.setattr(harness.report, "build_report", build_report)
    outputs = RunOutputs(_leak(tmp_path))
    assert taken == ["snapshot"]
    assert outputs.write_report(None) is True
    assert taken == ["snapshot"] and passed["idle_since"] == cpu_load.CpuTimes(1.0, 2.0, 3.0)


def test_the_head_start_imports_what_the_report_needs_and_nothing_without_one(tmp_path):
    import sys

    from harness.run_outputs import REPORT_IMPORTS

    assert RunOutputs(_leak(tmp_path, report=None)).head_start() == []
    tasks = RunOutputs(_leak(tmp_path)).head_start()
    assert len(tasks) == len(REPORT_IMPORTS) and REPORT_IMPORTS[-1] == "harness.report"
    for task in tasks:
        task()
    assert all(name in sys.modules for name in REPORT_IMPORTS)
