"""The files a finished run leaves for people: its HTML report and its Markdown summary for CI.

The rows are in the store before any of these is written, so a failure here loses nothing: it is
kept as a one-line reason for the terminal summary, and the session turns it into a failed run
with exit code 1 (the store's status and the exit code agree).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness import cpu_load, run_summary
from harness.atomic import write_atomic
from harness.gate.describe import comparison_markdown

if TYPE_CHECKING:
    from harness.gate import GateOutcome
    from harness.session import LeakageSession

__all__ = ["RunOutputs", "REPORT_IMPORTS"]

#: What writing the report imports, in pieces of 0.02-0.17 s (matplotlib's figure module loads its fonts).
REPORT_IMPORTS = ("matplotlib", "matplotlib.figure", "jinja2", "harness.report")


class RunOutputs:
    """Where the report and the summary of ``leak``'s run went, or why they did not."""

    def __init__(self, leak: LeakageSession):
        self.leak = leak
        # how busy other processes keep the machine over the whole session picks the report's
        # worker count (harness.cpu_load); the report's own reading of the rows is too short a window
        self.cpu_since = cpu_load.snapshot()
        self.report_path: Path | None = None
        self.latest_report: Path | None = None
        self.report_error: str | None = None
        self.summary_path: Path | None = None
        self.summary_error: str | None = None

    def head_start(self) -> list[Callable[[], object]]:
        """The imports writing the report needs (about 0.35 s), as tasks for time this process
        would spend waiting anyway (:meth:`harness.execution.executor.Execution.while_waiting`);
        none when no report is written."""
        if self.leak.gates.report is None:
            return []
        return [functools.partial(importlib.import_module, name) for name in REPORT_IMPORTS]

    def report_targets(self) -> tuple[Path, Path | None]:
        """This run's report file and the stable copy of the latest run's (``None`` with
        ``--leak-report PATH``, which is written alone): ``reports/leakage-RUN.html`` and
        ``reports/leakage.html`` beside ``reports/leakage.sqlite``. Two sessions on one store,
        or a partial run after a full one, each keep their own file."""
        leak = self.leak
        if leak.gates.report:
            return leak._rooted(leak.gates.report), None
        store = leak.store.path
        return store.with_name(f"{store.stem}-{leak.run_id}.html"), store.with_suffix(".html")

    def write_report(self, outcome: GateOutcome | None) -> bool:
        """Write the HTML report; False (and the reason kept for the summary) when it broke."""
        leak = self.leak
        if leak.gates.report is None:
            return True
        from harness.report import build_report

        path, latest = self.report_targets()
        comparison = outcome.comparison if outcome else None
        failures = [d.as_dict() for d in comparison.regressions] if comparison else None
        aggregate = [v.as_dict() for v in comparison.aggregate] if comparison else None
        try:
            self.report_path = build_report(leak.store.path, run_id=leak.run_id, output=path,
                                            baseline=outcome.baseline if outcome else None, gate_failures=failures,
                                            aggregate=aggregate, idle_since=self.cpu_since)
            if latest is not None:
                self.latest_report = write_atomic(latest, self.report_path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - the rows are stored already; fail loudly, lose nothing
            self.report_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    def write_markdown(self, outcome: GateOutcome | None) -> bool:
        """The Markdown summary for CI: ``--leak-summary-md PATH`` and ``$GITHUB_STEP_SUMMARY``."""
        leak = self.leak
        gate = comparison_markdown(outcome.comparison) if outcome and outcome.comparison else leak.gate_lines
        text = run_summary.markdown(run_summary.summarize(leak.rows), run_id=leak.run_id, store=leak.store.path,
                                    gate=gate, report=self.report_path)
        try:
            if leak.options.summary_md:
                self.summary_path = run_summary.write_markdown(leak._rooted(leak.options.summary_md), text)
            run_summary.append_github_summary(text)
        except OSError as exc:  # the rows are stored already: say so, lose nothing
            self.summary_error = f"{exc.filename or ''}: {exc.strerror or exc}"
            return False
        return True

    def lines(self) -> list[str]:
        """The terminal summary's lines about these files."""
        lines = []
        if self.report_path:
            latest = f" (latest: {self.latest_report})" if self.latest_report else ""
            lines.append(f"report: {self.report_path}{latest}")
        if self.report_error:
            lines.append(f"report NOT written: {self.report_error}")
        if self.summary_path:
            lines.append(f"summary: {self.summary_path}")
        if self.summary_error:
            lines.append(f"summary NOT written: {self.summary_error}")
        return lines
