"""The state of one pytest session of leakage cases, kept in ``config.stash``.

On the controller (the process that runs ``pytest``, or the only one without xdist) it owns the
run: it opens the store, receives every case's row through the test reports and writes it, and
prints the summary. On an xdist worker it only knows the options and the run id it was handed.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import cases as cases_mod
from harness.atomic import check_writable, write_atomic
from harness.gate import (BaselineError, BaselineGate, GateOutcome, Threshold, baseline_path, parse_threshold_table,
                          parse_tolerances)
from harness.heartbeat import Heartbeat
from harness.options import MAX_SEED, LeakageOptions
from harness.outcomes import CRASHED, case_from_nodeid, failure_message, phase_status
from harness.store import Store, StoreError, new_run_id

__all__ = ["LeakageSession", "Gates", "build_gates", "CASE_KEY", "ROW_KEY", "FINGERPRINT_KEY"]

# user_properties keys: how case data travels from a worker to the controller in a TestReport.
CASE_KEY = "leakage_case"
ROW_KEY = "leakage_row"
FINGERPRINT_KEY = "leakage_fingerprint"


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
    # files this session will certainly write: refuse a path that cannot be written before any case runs
    if save:
        _check_target("--leak-save-baseline", baseline_path(save, config.rootpath))
    if compare and update:
        _check_target("--leak-compare", baseline_path(compare, config.rootpath))
    if config.getoption("leak_report") and not config.getoption("leak_no_report"):
        report = Path(config.getoption("leak_report"))
        _check_target("--leak-report", report if report.is_absolute() else config.rootpath / report)
    thresholds = parse_threshold_table(tool.get("thresholds", []))
    thresholds += config.getoption("leak_max") + config.getoption("leak_min")
    gate = BaselineGate(config.rootpath, parse_tolerances(tool.get("tolerances")), compare, save, update,
                        command=rerun_command(config))
    report = None if config.getoption("leak_no_report") else config.getoption("leak_report") or ""
    return Gates(thresholds, gate, report)


def _check_target(option: str, path: Path) -> None:
    try:
        check_writable(path)
    except OSError as exc:
        raise ValueError(f"{option}: cannot write {path}: {exc.strerror} ({exc.filename})") from None


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
                 gates: Gates | None = None):
        self.config = config
        self.gates = gates or Gates()
        self.gate_lines: list[str] = []
        self.options = options
        self.preset = cases_mod.PRESETS[options.preset]
        specs = options.images or list(self.preset.images)
        self.sources = cases_mod.resolve_images(specs)
        self.ignored_images = cases_mod.ignored_files(specs)  # named in the summary, never dropped silently
        self.steps = options.steps or self.preset.steps
        self.max_side = options.max_side or self.preset.max_side
        self.seeds = seed_range(options.seed, options.seeds)
        self.is_worker = hasattr(config, "workerinput")
        self.run_id = run_id or new_run_id()
        self.store = Store(self._rooted(options.store))
        self.rows: dict[tuple[str, str], dict] = {}  # what the store holds, for the summary
        self.fingerprint_sent = False  # worker side: fingerprint travels with the first row only
        self.fingerprint: dict | None = None
        self.started = False
        self.heartbeat: Heartbeat | None = None
        self.pytest_session: pytest.Session | None = None  # set when the session starts
        self.crashed: set[str] = set()  # node ids whose xdist worker died running them
        self._announced: dict[str, str] = {}  # node id -> case JSON, from its first report
        self.store_error: str | None = None  # the write that failed; nothing is written after it
        self.report_path: Path | None = None
        self.latest_report: Path | None = None
        self.report_error: str | None = None

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
                "scheduler": self.preset.scheduler}

    # -- controller: the run lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Open the run in the store (on the first collected leakage case, not for unrelated
        sessions) and start its heartbeat. Raises :class:`StoreError` when the store is unusable."""
        if self.started or self.is_worker:
            return
        self.store.start_run(self.run_id, name=self.options.run_name, preset=self.preset.name,
                             options=self.run_options())
        self.started = True
        self.heartbeat = Heartbeat(self.store.path, self.run_id).start()

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
        try:
            self.start()
            if FINGERPRINT_KEY in props and self.fingerprint is None:
                self.store.set_fingerprint(self.run_id, json.loads(props[FINGERPRINT_KEY]))
                self.fingerprint = json.loads(props[FINGERPRINT_KEY])
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

    def _stop(self, exc: StoreError) -> None:
        """A store write failed: record nothing more and end the session after the current test.
        pytest prints ``shouldfail`` once and exits with code 1; under xdist, whose controller loop
        does not look at it, the workers are told to shut down after the tests they hold (what
        xdist itself does for ``--maxfail``, without its "Interrupted" ending)."""
        self.store_error = str(exc)
        if self.pytest_session is not None:
            self.pytest_session.shouldfail = f"leakage: {exc}"
        dsession = self.config.pluginmanager.get_plugin("dsession")
        if dsession is not None:
            dsession.triggershutdown()

    def finish(self, exitstatus: int) -> int:
        """Close the run: baseline gate, final status, report. Returns the session's exit code,
        which the run's status in the store agrees with."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
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
        outcome = self._gate() if int(exitstatus) != 2 else None
        if outcome is not None and outcome.failed and int(exitstatus) == 0:
            exitstatus = pytest.ExitCode.TESTS_FAILED
        status = {0: "passed", 1: "failed", 2: "interrupted"}.get(int(exitstatus), "error")
        if not self._close_run(status):
            return pytest.ExitCode.TESTS_FAILED
        if not self._write_report(outcome) and int(exitstatus) == 0:
            exitstatus = pytest.ExitCode.TESTS_FAILED  # status and exit code agree: failed, 1
            self._close_run("failed", f"report not written: {self.report_error}")
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

    def report_targets(self) -> tuple[Path, Path | None]:
        """This run's report file and the stable copy of the latest run's (``None`` with
        ``--leak-report PATH``, which is written alone): ``reports/leakage-RUN.html`` and
        ``reports/leakage.html`` beside ``reports/leakage.sqlite``. Two sessions on one store,
        or a partial run after a full one, each keep their own file."""
        if self.gates.report:
            return self._rooted(self.gates.report), None
        store = self.store.path
        return store.with_name(f"{store.stem}-{self.run_id}.html"), store.with_suffix(".html")

    def _write_report(self, outcome: GateOutcome | None) -> bool:
        """Write the HTML report; False (and the reason kept for the summary) when it broke."""
        if self.gates.report is None:
            return True
        from harness.report import build_report

        path, latest = self.report_targets()
        failures = [d.as_dict() for d in outcome.comparison.regressions] if outcome and outcome.comparison else None
        try:
            self.report_path = build_report(self.store.path, run_id=self.run_id, output=path,
                                            baseline=outcome.baseline if outcome else None, gate_failures=failures)
            if latest is not None:
                self.latest_report = write_atomic(latest, self.report_path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - the rows are stored already; fail loudly, lose nothing
            self.report_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    # -- controller: the summary ----------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        if not self.started and not self.store_error:
            return []
        lines = [f"images: ignored {p} (not an image format this harness reads)" for p in self.ignored_images]
        lines += experiment_lines(self.rows)
        lines.append(f"store: {self.store.path}  run: {self.run_id}")
        if self.store_error:
            lines.append(f"results store write FAILED, the session was stopped: {self.store_error}")
            lines.append(f"{len(self.rows)} rows were recorded before it and are kept: "
                         f"`leakage --store {self.store.path} export {self.run_id} --csv rows.csv`")
        elif self.heartbeat is not None and self.heartbeat.error:
            lines.append(f"heartbeat stopped (readers may take this run for died): {self.heartbeat.error}")
        lines.extend(self.gate_lines)
        if self.report_path:
            latest = f" (latest: {self.latest_report})" if self.latest_report else ""
            lines.append(f"report: {self.report_path}{latest}")
        if self.report_error:
            lines.append(f"report NOT written: {self.report_error}")
        return lines


def seed_range(seed: int, count: int) -> list[int]:
    """``seed, seed+1, ..., seed+count-1``; ``ValueError`` when the last passes :data:`MAX_SEED`."""
    if seed + count - 1 > MAX_SEED:
        raise ValueError(f"--leak-seed {seed} with --leak-seeds {count} goes past the largest seed {MAX_SEED} "
                         "(2**63 - 1, what the store's INTEGER and torch's manual_seed both hold)")
    return list(range(seed, seed + count))


def experiment_lines(rows: dict[tuple[str, str], dict]) -> list[str]:
    """One summary line per experiment: cases by status, mean and worst ``mse_outside``, time."""
    by_experiment: dict[str, list[dict]] = defaultdict(list)
    for (experiment, _), row in sorted(rows.items()):
        by_experiment[experiment].append(row)
    lines = []
    for experiment, group in by_experiment.items():
        counts = defaultdict(int)
        for row in group:
            counts[row["status"]] += 1
        measured = [r for r in group if _finite(r.get("mse_outside"))]
        timed = [r["seconds"] for r in group if _finite(r.get("seconds"))]
        text = f"{experiment:<9} {len(group):>5} cases ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
        if measured:
            worst = max(measured, key=lambda r: r["mse_outside"])
            mean = sum(r["mse_outside"] for r in measured) / len(measured)
            text += f"  mse_outside mean {mean:.2f}, worst {worst['mse_outside']:.2f} ({worst['case_id']})"
        if timed:
            text += f"  {sum(timed) / len(timed):.3f} s/case"
        lines.append(text)
    return lines


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
