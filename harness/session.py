"""The state of one pytest session of leakage cases, kept in ``config.stash``.

On the controller (the process that runs ``pytest``, or the only one without xdist) it owns the
run: it checks the baseline before anything runs, opens the store, receives every case's row
through the test reports and writes it, and prints the summary. On an xdist worker it only knows
the options, the run id and the baseline's values it was handed.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import cases as cases_mod
from harness import run_summary
from harness.gate import (
    BaselineError,
    BaselineGate,
    Threshold,
    baseline_path,
    case_regressions,
    parse_threshold_table,
    parse_tolerances,
)
from harness.gate.describe import comparison_markdown
from harness.machine import machine_info
from harness.options import LeakageOptions
from harness.pipelines.errors import PipelineLoadError
from harness.preflight import Preflight
from harness.store import Store, StoreError, new_run_id

__all__ = ["LeakageSession", "Gates", "build_gates", "CASE_KEY", "ROW_KEY", "FINGERPRINT_KEY", "MACHINE_KEY",
           "TRANSPORT_KEYS", "LOAD_ERROR_KEY"]

# user_properties keys: how case data travels from a worker to the controller in a TestReport.
CASE_KEY = "leakage_case"
ROW_KEY = "leakage_row"
FINGERPRINT_KEY = "leakage_fingerprint"
LOAD_ERROR_KEY = "leakage_load_error"  # why the pipeline did not load, on the case that tried
MACHINE_KEY = "leakage_machine"  # the GPU and CUDA the pipeline ran on, known only where it ran
TRANSPORT_KEYS = (CASE_KEY, ROW_KEY, FINGERPRINT_KEY, MACHINE_KEY, LOAD_ERROR_KEY)


@dataclass
class Gates:
    """Per-case thresholds, the baseline gate, and where the report goes (``None``: no report,
    ``""``: the default path beside the store)."""

    thresholds: list[Threshold] = field(default_factory=list)
    baseline: BaselineGate | None = None
    report: str | None = ""


def build_gates(config: pytest.Config, tool: dict) -> Gates:
    """Thresholds, tolerances and the baseline actions, all checked now rather than mid-run."""
    compare, save = config.getoption("leak_compare"), config.getoption("leak_save_baseline")
    update = config.getoption("leak_update_baseline")
    if update and not compare:
        raise ValueError("--leak-update-baseline rewrites the baseline named by --leak-compare NAME; give both")
    if compare and save and compare == save:
        raise ValueError(f"--leak-save-baseline and --leak-compare both name {save!r}; "
                         "to rewrite it use --leak-compare NAME --leak-update-baseline")
    for name in (compare, save):
        if name:
            baseline_path(name, config.rootpath)  # rejects a bad name now
    thresholds = parse_threshold_table(tool.get("thresholds", []))
    thresholds += config.getoption("leak_max") + config.getoption("leak_min")
    gate = BaselineGate(config.rootpath, parse_tolerances(tool.get("tolerances")), compare, save, update,
                        command=rerun_command(config))
    report = None if config.getoption("leak_no_report") else config.getoption("leak_report") or ""
    return Gates(thresholds, gate, report)


def rerun_command(config: pytest.Config) -> str:
    """This session's pytest command without its baseline options, for the messages that say
    which command saves or accepts a baseline (so they keep e.g. --leak-pipeline)."""
    args, skip_next = [], False
    for arg in config.invocation_params.args:
        if skip_next:
            skip_next = False
        elif arg in ("--leak-compare", "--leak-save-baseline"):
            skip_next = True
        elif not arg.startswith(("--leak-compare=", "--leak-save-baseline=", "--leak-update-baseline")):
            args.append(arg)
    return " ".join(["pytest", *(shlex.quote(a) for a in args)])


class LeakageSession:
    """Options, the sweep, and (on the controller) the run being recorded."""

    def __init__(self, config: pytest.Config, options: LeakageOptions, *, run_id: str | None = None,
                 gates: Gates | None = None, baseline_values: dict | None = None):
        self.config = config
        self.gates = gates or Gates()
        self.gate_lines: list[str] = []
        self.options = options
        self.preset = cases_mod.PRESETS[options.preset]
        self.sources = cases_mod.resolve_images(options.images or list(self.preset.images))
        self.steps = options.steps or self.preset.steps
        self.max_side = options.max_side or self.preset.max_side
        self.seeds = list(range(options.seed, options.seed + options.seeds))
        self.is_worker = hasattr(config, "workerinput")
        self.run_id = run_id or new_run_id()
        self.store = Store(self._rooted(options.store))
        self.rows: dict[tuple[str, str], dict] = {}
        self.fingerprint_sent = False  # worker side: fingerprint travels with the first row only
        self.fingerprint: dict | None = None
        self.machine: dict = {}
        # per case key, the baseline's values of the gated metrics: each case's verdict needs them
        self.baseline_values: dict[str, dict] = baseline_values or {}
        self.started = False
        self.report_path: Path | None = None
        self.report_error: str | None = None
        self.summary_path: Path | None = None
        self.summary_error: str | None = None
        origin = "--leak-scheduler" if options.scheduler else f"the {self.preset.name} preset"
        self.pipeline = Preflight(options, options.scheduler or self.preset.scheduler, origin)
        self.load_error: str | None = None  # controller: the pipeline failed to load (in some process)

    def _rooted(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.config.rootpath / p

    @property
    def artifacts_dir(self) -> Path | None:
        if self.options.artifacts == "none":
            return None
        return self.store.path.parent / "artifacts" / self.run_id

    def save_artifacts(self, case: cases_mod.Case, original, output) -> str:
        """Save the output (and, once, the prepared original) as PNG; return the output's path
        relative to the store's folder, which is what the row records."""
        from harness.measure import save_png

        root = self.artifacts_dir
        original_path = root / "originals" / f"{case.image.name}.png"
        if not original_path.exists():
            save_png(original, original_path)
        path = root / case.experiment / f"{case.case_id}.png"
        save_png(output, path)
        return str(path.relative_to(self.store.path.parent))

    def cases(self, experiment: str) -> list[cases_mod.Case]:
        return cases_mod.build_cases(experiment, self.preset, self.sources, steps=self.steps, seeds=self.seeds)

    def run_options(self) -> dict:
        """What is recorded with the run: every option plus the sizes actually used."""
        return {**self.options.as_dict(), "steps": self.steps, "max_side": self.max_side,
                "seeds": self.seeds, "images": [s.name for s in self.sources],
                "guidance_scale": self.preset.guidance_scale, "prompt": self.preset.prompt,
                "scheduler": self.pipeline.scheduler_used(), "pipeline_class": self.pipeline.pipeline_class_used()}

    def check_pipeline(self) -> None:
        """Resolve the pipeline without weights at the start of the session.

        On the controller a problem is a usage error now, before any case runs; an xdist
        worker keeps it for its ``inpainter`` fixture to report (a worker cannot stop the run
        from its start).
        """
        try:
            self.pipeline.check()
        except (PipelineLoadError, ValueError) as exc:
            if not self.is_worker:
                raise pytest.UsageError(f"leakage: {exc}") from None
            self.pipeline.error = str(exc)

    # -- the baseline: checked on the controller before the sweep, used by every case ----------

    def prepare_baseline(self) -> None:
        """Load and check the baseline to compare with (controller, when pytest starts); raises
        :class:`BaselineError` before any case runs or any run is recorded."""
        gate = self.gates.baseline
        if gate is not None and gate.prepare(self.preset.name, self.run_options()) is not None:
            self.baseline_values = gate.case_values()

    def baseline_verdict(self, row: dict) -> str | None:
        """The case's regression against the baseline beyond tolerance, as one line, or ``None``."""
        gate = self.gates.baseline
        if not self.baseline_values or gate is None:
            return None
        return case_regressions(self.baseline_values, gate.tolerances, row, gate.compare_name)

    # -- controller: the run lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Open the run in the store (on the first collected leakage case, not for unrelated sessions)."""
        if self.started or self.is_worker:
            return
        try:
            self.store.start_run(self.run_id, name=self.options.run_name, preset=self.preset.name,
                                 options=self.run_options())
        except StoreError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.started = True
        self.machine = machine_info(self.config.rootpath)
        self.store.set_machine(self.run_id, self.machine)

    def receive(self, report: pytest.TestReport) -> None:
        """Turn a test report of a leakage case into its row in the store."""
        props = dict(report.user_properties)
        if CASE_KEY not in props:
            return
        self.start()
        if FINGERPRINT_KEY in props and self.fingerprint is None:
            self.fingerprint = json.loads(props[FINGERPRINT_KEY])
            self.store.set_fingerprint(self.run_id, self.fingerprint)
        if MACHINE_KEY in props:
            device = json.loads(props[MACHINE_KEY])
            if device and any(self.machine.get(k) != v for k, v in device.items()):
                self.machine.update(device)
                self.store.set_machine(self.run_id, self.machine)
        if LOAD_ERROR_KEY in props:
            self._note_load_error(report, props[LOAD_ERROR_KEY])
        case = json.loads(props[CASE_KEY])
        key = (case["experiment"], case["case_id"])
        status = _status(report)
        if status is None:
            return
        row = json.loads(props[ROW_KEY]) if ROW_KEY in props else dict(self.rows.get(key, case))
        row.update(status=status, nodeid=report.nodeid)
        if status != "passed":
            row["message"] = _message(report)
        self.rows[key] = row
        self.store.add_result(self.run_id, row)

    def row_of(self, report: pytest.TestReport) -> dict | None:
        """The recorded row of the case a report belongs to (``None`` for other tests)."""
        props = dict(report.user_properties)
        if CASE_KEY not in props:
            return None
        case = json.loads(props[CASE_KEY])
        return self.rows.get((case["experiment"], case["case_id"]))

    def _note_load_error(self, report: pytest.TestReport, message: str) -> None:
        """Keep the first load failure; show a later one (another xdist worker's) as a skip."""
        if self.load_error is None:
            self.load_error = message
            return
        report.outcome = "skipped"
        reason = "not run: the pipeline failed to load (reported once, above)"
        report.longrepr = (report.location[0], report.location[1] or 0, f"Skipped: {reason}")

    def finish(self, exitstatus: int) -> bool:
        """Close the run: baseline gate, report, final status. True when a gate failed."""
        if not self.started:
            return False
        gate_failed = False
        outcome = None
        if self.gates.baseline is not None and int(exitstatus) != 2:
            try:
                outcome = self.gates.baseline.run(self.store, self.run_id)
            except BaselineError as exc:
                self.gate_lines.append(f"FAILED: {exc}")
                gate_failed = True
            else:
                self.gate_lines.extend(outcome.lines)
                gate_failed = outcome.failed
        if (gate_failed or self.load_error) and int(exitstatus) in (0, 2):
            exitstatus = 1  # a pipeline that failed to load stops xdist workers: not an interruption
        status = {0: "passed", 1: "failed", 2: "interrupted"}.get(int(exitstatus), "error")
        self.store.finish_run(self.run_id, status, self.load_error)
        report_ok = self._write_report(outcome)
        summary_ok = self._write_markdown(outcome)
        return gate_failed or not report_ok or not summary_ok

    def _write_markdown(self, outcome) -> bool:
        """The Markdown summary for CI: ``--leak-summary-md PATH`` and ``$GITHUB_STEP_SUMMARY``."""
        gate = comparison_markdown(outcome.comparison) if outcome and outcome.comparison else self.gate_lines
        text = run_summary.markdown(run_summary.summarize(self.rows), run_id=self.run_id, store=self.store.path,
                                    gate=gate, report=self.report_path)
        try:
            if self.options.summary_md:
                self.summary_path = run_summary.write_markdown(self._rooted(self.options.summary_md), text)
            run_summary.append_github_summary(text)
        except OSError as exc:  # the rows are stored already: say so, lose nothing
            self.summary_error = f"{exc.filename or ''}: {exc.strerror or exc}"
            return False
        return True

    def _write_report(self, outcome) -> bool:
        """Write the HTML report; False (and the reason kept for the summary) when it broke."""
        if self.gates.report is None:
            return True
        from harness.report import build_report

        path = self._rooted(self.gates.report) if self.gates.report else self.store.path.with_suffix(".html")
        comparison = outcome.comparison if outcome else None
        failures = [d.as_dict() for d in comparison.regressions] if comparison else None
        aggregate = [v.as_dict() for v in comparison.aggregate] if comparison else None
        try:
            self.report_path = build_report(self.store.path, run_id=self.run_id, output=path,
                                            baseline=outcome.baseline if outcome else None, gate_failures=failures,
                                            aggregate=aggregate)
        except Exception as exc:  # noqa: BLE001 - the rows are stored already; fail loudly, lose nothing
            self.report_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    # -- controller: the summary ----------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        if not self.started:
            return []
        lines = run_summary.terminal_lines(run_summary.summarize(self.rows))
        if self.load_error:
            lines.append("pipeline not loaded: the session stopped after its first case")
        lines.append(f"store: {self.store.path}  run: {self.run_id}")
        lines.extend(self.gate_lines)
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        if self.report_error:
            lines.append(f"report NOT written: {self.report_error}")
        if self.summary_path:
            lines.append(f"summary: {self.summary_path}")
        if self.summary_error:
            lines.append(f"summary NOT written: {self.summary_error}")
        return lines


def _status(report: pytest.TestReport) -> str | None:
    """The case's status from one phase's report, or ``None`` when this phase decides nothing."""
    if report.when == "call":
        return report.outcome
    if report.when == "setup" and report.outcome != "passed":
        return "skipped" if report.outcome == "skipped" else "error"
    if report.when == "teardown" and report.outcome == "failed":
        return "error"
    return None


def _message(report: pytest.TestReport) -> str:
    if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext or ""
    # the last line of pytest's text is the most specific one ("E   ValueError: ...")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ")]
    return (errors[0][1:].strip() if errors else (lines[-1] if lines else ""))[:2000]
