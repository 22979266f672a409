"""The state of one pytest session of leakage cases, kept in ``config.stash``.

On the controller (the process that runs ``pytest``, or the only one without xdist) it owns the
run: it checks the baseline before anything runs, opens the store, receives every case's row
through the test reports and writes it, and prints the summary. On an xdist worker it only knows
the options, the run id and the baseline's values it was handed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import cases as cases_mod
from harness import run_summary
from harness.gate import BaselineError, GateOutcome, case_regressions
from harness.gate.configure import Gates
from harness.heartbeat import Heartbeat
from harness.machine import machine_info
from harness.options import LeakageOptions, seed_range
from harness.outcomes import CRASHED, case_from_nodeid, count_cases, failure_message, phase_status
from harness.pipelines.errors import PipelineLoadError
from harness.preflight import Preflight
from harness.progress import Progress
from harness.run_outputs import RunOutputs
from harness.store import Store, StoreError, new_run_id
from harness.transport import (CASE_KEY, FINGERPRINT_KEY, LOAD_ERROR_KEY, MACHINE_KEY, NOTE_KEY, ORIGIN_KEY, REFUSED_KEY,
                               ROW_KEY, TRANSPORT_KEYS)

__all__ = ["LeakageSession", "CASE_KEY", "ROW_KEY", "FINGERPRINT_KEY", "MACHINE_KEY", "LOAD_ERROR_KEY",
           "NOTE_KEY", "REFUSED_KEY", "ORIGIN_KEY", "TRANSPORT_KEYS"]


class LeakageSession:
    """Options, the sweep, and (on the controller) the run being recorded."""

    def __init__(self, config: pytest.Config, options: LeakageOptions, *, run_id: str | None = None,
                 gates: Gates | None = None, baseline_values: dict | None = None):
        self.config = config
        self.gates = gates or Gates()
        self.gate_lines: list[str] = []
        self.options = options
        self.preset = cases_mod.PRESETS[options.preset]
        specs = options.images or list(self.preset.images)
        self.sources = cases_mod.resolve_images(specs)
        if options.masks:
            self.sources = cases_mod.attach_user_masks(self.sources, str(self._rooted(options.masks)))
        self.ignored_images = cases_mod.ignored_files(specs)  # named in the summary, never dropped silently
        self.steps = options.steps or self.preset.steps
        self.max_side = options.max_side or self.preset.max_side
        self.resize = options.resize or self.preset.resize
        self.seeds = seed_range(options.seed, options.seeds)
        self.is_worker = hasattr(config, "workerinput")
        self.run_id = run_id or new_run_id()
        self.store = Store(self._rooted(options.store))
        self.rows: dict[tuple[str, str], dict] = {}  # what the store holds, for the summary
        self.fingerprint_sent = False  # worker side: fingerprint travels with the first row only
        self.fingerprint: dict | None = None
        self.machine: dict = {}
        # per case key, the baseline's values of the gated metrics: each case's verdict needs them
        self.baseline_values: dict[str, dict] = baseline_values or {}
        self.started = False
        self.heartbeat: Heartbeat | None = None
        self.pytest_session: pytest.Session | None = None  # set when the session starts
        self.crashed: set[str] = set()  # node ids whose xdist worker died running them
        self._announced: dict[str, str] = {}  # node id -> case JSON, from its first report
        self.store_error: str | None = None  # the write that failed; nothing is written after it
        self.outputs = RunOutputs(self)  # controller: the report and the Markdown summary, once it ends
        origin = "--leak-scheduler" if options.scheduler else f"the {self.preset.name} preset"
        self.pipeline = Preflight(options, options.scheduler or self.preset.scheduler, origin)
        self.load_error: str | None = None  # controller: the pipeline failed to load (in some process)
        self.resume: dict | None = None  # the run --leak-resume continues: run_id, fingerprint, status
        self.refused: str | None = None  # controller: why the resumed run could not be continued
        self.notes: list[str] = []  # controller: lines from where cases ran
        self.origins: dict[str, int] = {}  # controller: cases computed / copied
        self._runner = None
        self.progress: Progress | None = None  # controller: counts the cases as their reports arrive

    @property
    def runner(self):
        """This process's :class:`~harness.execution.runner.CaseRunner` (made when first needed)."""
        if self._runner is None:
            from harness.execution.runner import CaseRunner

            self._runner = CaseRunner(self)
        return self._runner

    def settle(self) -> None:
        """Wait for this process's look-ahead call, if one runs (:mod:`harness.execution.lookahead`)."""
        if self._runner is not None:
            self._runner.execution.settle()

    def prepare_resume(self, wanted: str | None) -> None:
        """Controller, when pytest starts: take over the run ``--leak-resume`` names (raises
        ``ValueError``/``StoreError`` with the reason it cannot be resumed)."""
        if wanted is None:
            return
        from harness.execution.runner import prepare_resume

        self.resume = prepare_resume(self, wanted)
        self.run_id = self.resume["run_id"]

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

    def save_original(self, case: cases_mod.Case, multiple: int) -> None:
        """Save the prepared original of a case whose row was copied (its output PNG is the
        source run's), so this run's report finds it."""
        from harness.measure import prepared_image, save_png

        path = self.artifacts_dir / "originals" / f"{case.image.name}.png"
        if not path.exists():
            save_png(prepared_image(case.image, self.max_side, multiple, self.resize), path)

    def cases(self, experiment: str) -> list[cases_mod.Case]:
        return cases_mod.build_cases(experiment, self.preset, self.sources, steps=self.steps, seeds=self.seeds)

    def run_options(self) -> dict:
        """What is recorded with the run: every option plus the sizes actually used."""
        return {**self.options.as_dict(), "steps": self.steps, "max_side": self.max_side, "resize": self.resize,
                "seeds": self.seeds, "images": [s.name for s in self.sources],
                "guidance_scale": self.preset.guidance_scale, "prompt": self.preset.prompt,
                "scheduler": self.pipeline.scheduler_used(), "pipeline_class": self.pipeline.pipeline_class_used(),
                # resolving --leak-batch auto imports torch: known once the run starts, not before
                # (a session without leakage cases checks the baseline's options without it)
                "batch_size": self._runner.execution.batch if self._runner is not None else None}

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
        """Open the run in the store (on the first collected leakage case, not for unrelated
        sessions) and start its heartbeat. Raises :class:`StoreError` when the store is unusable."""
        if self.started or self.is_worker:
            return
        self.runner  # noqa: B018 - resolves the batch size the run records
        if self.resume is not None:  # the same run again: running, recorded by this process
            self.store.reopen_run(self.run_id)
            self.fingerprint = self.resume["fingerprint"] or None
        else:
            self.store.start_run(self.run_id, name=self.options.run_name, preset=self.preset.name,
                                 options=self.run_options())
        self.started = True
        self.heartbeat = Heartbeat(self.store.path, self.run_id).start()
        self.machine = machine_info(self.config.rootpath)
        self.store.set_machine(self.run_id, self.machine)
        for task in self.outputs.head_start():  # while this process waits for look-ahead calls
            self.runner.execution.while_waiting(task)

    # -- controller: progress --------------------------------------------------------------------

    def start_progress(self, total: int | None = None, *, nodeids=None, terminal: bool) -> None:
        """Count ``total`` cases (or those among an xdist worker's ``nodeids``) from now on, unless
        ``--leak-progress off`` or already counting. ``terminal``: the output is a terminal."""
        if self.progress is None and self.options.progress != "off" and not self.is_worker:
            total = count_cases(nodeids, self.cases) if total is None else total
            self.progress = Progress(total, terminal=terminal)

    def progress_line(self, report: pytest.TestReport) -> str | None:
        """The progress line due after ``report`` (one phase of a case), or ``None``."""
        crashed = report.nodeid in self.crashed
        if self.progress is None or (CASE_KEY not in dict(report.user_properties) and not crashed):
            return None
        return self.progress.report(report.nodeid, failed=report.failed,
                                    finished=report.when == "teardown" or crashed)

    def note_crash(self, nodeid: str) -> None:
        """pytest-xdist reports that the worker running ``nodeid`` died; its report follows."""
        self.crashed.add(nodeid)

    def receive(self, report: pytest.TestReport) -> None:
        """Turn a test report of a leakage case into its row in the store."""
        case_json = dict(report.user_properties).get(CASE_KEY) or self._announced.get(report.nodeid)
        if case_json is None and report.nodeid in self.crashed:
            case = case_from_nodeid(report.nodeid, self.cases)  # the worker died before its setup report
            case_json = json.dumps(case.as_dict()) if case else None
        if case_json is None or self.store_error:
            return
        self._announced[report.nodeid] = case_json
        status = CRASHED if report.nodeid in self.crashed else phase_status(report)
        props = dict(report.user_properties)
        if REFUSED_KEY in props:  # nothing of this process belongs in the resumed run
            self.refused = self.refused or props[REFUSED_KEY]
            self._halt(self.refused)
            return
        self.notes.extend(value for key, value in report.user_properties if key == NOTE_KEY)
        if ORIGIN_KEY in props and report.when == "call":
            self.origins[props[ORIGIN_KEY]] = self.origins.get(props[ORIGIN_KEY], 0) + 1
        try:
            self.start()
            if FINGERPRINT_KEY in props and self.fingerprint is None:
                self.store.set_fingerprint(self.run_id, json.loads(props[FINGERPRINT_KEY]))
                self.fingerprint = json.loads(props[FINGERPRINT_KEY])
            self._note_device(props)
            if LOAD_ERROR_KEY in props:
                self._note_load_error(report, props[LOAD_ERROR_KEY])
                status = phase_status(report)  # a repeated load failure now reads as skipped
            if status is None:
                return
            case = json.loads(case_json)
            key = (case["experiment"], case["case_id"])
            row = json.loads(props[ROW_KEY]) if ROW_KEY in props else dict(self.rows.get(key, case))
            row.update(status=status, nodeid=report.nodeid)
            if status != "passed":
                row["message"] = failure_message(report)
            self.store.add_result(self.run_id, row)
        except StoreError as exc:
            self._stop(exc)
            return
        self.rows[key] = row

    def _note_device(self, props: dict) -> None:
        """The GPU and CUDA a worker ran on, added to the run's machine record when new."""
        if MACHINE_KEY in props:
            device = json.loads(props[MACHINE_KEY])
            if device and any(self.machine.get(k) != v for k, v in device.items()):
                self.machine.update(device)
                self.store.set_machine(self.run_id, self.machine)

    def _note_load_error(self, report: pytest.TestReport, message: str) -> None:
        """Keep the first load failure; show a later one (another xdist worker's) as a skip."""
        if self.load_error is None:
            self.load_error = message
            return
        report.outcome = "skipped"
        reason = "not run: the pipeline failed to load (reported once, above)"
        report.longrepr = (report.location[0], report.location[1] or 0, f"Skipped: {reason}")

    def row_of(self, report: pytest.TestReport) -> dict | None:
        """The recorded row of the case a report belongs to (``None`` for other tests)."""
        case_json = dict(report.user_properties).get(CASE_KEY) or self._announced.get(report.nodeid)
        if case_json is None:
            return None
        case = json.loads(case_json)
        return self.rows.get((case["experiment"], case["case_id"]))

    def _stop(self, exc: StoreError) -> None:
        """A store write failed: record nothing more and end the session after the current test.
        pytest prints ``shouldfail`` once and exits with code 1; under xdist, whose controller loop
        does not look at it, the workers are told to shut down after the tests they hold (what
        xdist itself does for ``--maxfail``, without its "Interrupted" ending)."""
        self.store_error = str(exc)
        self._halt(str(exc))

    def _halt(self, message: str) -> None:
        """End the session after the current test (see :meth:`_stop`)."""
        if self.pytest_session is not None:
            self.pytest_session.shouldfail = f"leakage: {message}"
        dsession = self.config.pluginmanager.get_plugin("dsession")
        if dsession is not None:
            dsession.triggershutdown()

    def finish(self, exitstatus: int) -> int:
        """Close the run: baseline gate, final status, report. Returns the session's exit code,
        which the run's status in the store agrees with."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.settle()  # an interrupted item may have left its look-ahead call running
        try:
            return self._finish(exitstatus)
        finally:
            self.store.close()  # the last connection to close removes SQLite's -wal and -shm files

    def _finish(self, exitstatus: int) -> int:
        if self.store_error:
            if self.started:
                self._close_run("failed", self.store_error)  # may fail too: the run then reads as died
            return pytest.ExitCode.TESTS_FAILED
        if not self.started:
            return exitstatus
        if self.refused:  # left resumable, with the reason
            self._close_run("interrupted", self.refused)
            return pytest.ExitCode.TESTS_FAILED
        if self.load_error and int(exitstatus) == 2:
            exitstatus = pytest.ExitCode.TESTS_FAILED  # a pipeline that failed to load stops xdist: not an interruption
        outcome = self._gate() if int(exitstatus) != 2 else None
        if outcome is not None and outcome.failed and int(exitstatus) == 0:
            exitstatus = pytest.ExitCode.TESTS_FAILED
        status = {0: "passed", 1: "failed", 2: "interrupted"}.get(int(exitstatus), "error")
        if not self._close_run(status, self.load_error):
            return pytest.ExitCode.TESTS_FAILED
        written = self.outputs.write_report(outcome)
        if not written and int(exitstatus) == 0:
            exitstatus = pytest.ExitCode.TESTS_FAILED  # status and exit code agree: failed, 1
            self._close_run("failed", f"report not written: {self.outputs.report_error}")
        if not self.outputs.write_markdown(outcome) and int(exitstatus) == 0:
            exitstatus = pytest.ExitCode.TESTS_FAILED
            self._close_run("failed", f"summary not written: {self.outputs.summary_error}")
        return exitstatus

    def _gate(self) -> GateOutcome:
        """Save or compare the baseline; every problem becomes a FAILED line, never a traceback."""
        try:
            outcome = self.gates.baseline.run(self.store, self.run_id) if self.gates.baseline else GateOutcome()
        except (BaselineError, StoreError) as exc:
            outcome = GateOutcome(lines=[f"FAILED: {exc}"], failed=True)
        self.gate_lines.extend(outcome.lines)
        return outcome

    def _close_run(self, status: str, message: str | None = None) -> bool:
        try:
            self.store.finish_run(self.run_id, status, message)
        except StoreError as exc:
            self.store_error = self.store_error or str(exc)
            return False
        return True

    # -- controller: the summary ----------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        if not self.started and not self.store_error:
            return []
        lines = [f"images: ignored {p} (not an image format this harness reads)" for p in self.ignored_images]
        lines += run_summary.terminal_lines(run_summary.summarize(self.rows))
        if self.load_error:
            lines.append("pipeline not loaded: the session stopped after its first case")
        if self.origins.get("copied"):
            lines.append(f"cases computed: {self.origins.get('computed', 0)}, copied: {self.origins['copied']} "
                         "(from the store or an identical case of this run)")
        lines.extend(self.notes)
        if self.refused:
            lines.append(self.refused)
        lines.append(f"store: {self.store.path}  run: {self.run_id}" + (" (resumed)" if self.resume else ""))
        if self.store_error:
            lines.append(f"results store write FAILED, the session was stopped: {self.store_error}")
            lines.append(f"{len(self.rows)} rows were recorded before it and are kept: "
                         f"`leakage --store {self.store.path} export {self.run_id} --csv rows.csv`")
        elif self.heartbeat is not None and self.heartbeat.error:
            lines.append(f"heartbeat stopped (readers may take this run for died): {self.heartbeat.error}")
        lines.extend(self.gate_lines)
        return lines + self.outputs.lines()
