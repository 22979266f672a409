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
from harness.gate import BaselineError, BaselineGate, Threshold, baseline_path, parse_threshold_table, parse_tolerances
from harness.options import LeakageOptions
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
                 gates: Gates | None = None):
        self.config = config
        self.gates = gates or Gates()
        self.gate_lines: list[str] = []
        self.options = options
        self.preset = cases_mod.PRESETS[options.preset]
        self.sources = cases_mod.resolve_images(options.images or list(self.preset.images))
        if options.masks:
            self.sources = cases_mod.attach_user_masks(self.sources, str(self._rooted(options.masks)))
        self.steps = options.steps or self.preset.steps
        self.max_side = options.max_side or self.preset.max_side
        self.resize = options.resize or self.preset.resize
        self.seeds = list(range(options.seed, options.seed + options.seeds))
        self.is_worker = hasattr(config, "workerinput")
        self.run_id = run_id or new_run_id()
        self.store = Store(self._rooted(options.store))
        self.rows: dict[tuple[str, str], dict] = {}
        self.fingerprint_sent = False  # worker side: fingerprint travels with the first row only
        self.fingerprint: dict | None = None
        self.started = False
        self.report_path: Path | None = None
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
        return {**self.options.as_dict(), "steps": self.steps, "max_side": self.max_side, "resize": self.resize,
                "seeds": self.seeds, "images": [s.name for s in self.sources],
                "guidance_scale": self.preset.guidance_scale, "prompt": self.preset.prompt,
                "scheduler": self.preset.scheduler}

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

    def receive(self, report: pytest.TestReport) -> None:
        """Turn a test report of a leakage case into its row in the store."""
        props = dict(report.user_properties)
        if CASE_KEY not in props:
            return
        self.start()
        if FINGERPRINT_KEY in props and self.fingerprint is None:
            self.fingerprint = json.loads(props[FINGERPRINT_KEY])
            self.store.set_fingerprint(self.run_id, self.fingerprint)
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
        if gate_failed and int(exitstatus) == 0:
            exitstatus = 1
        status = {0: "passed", 1: "failed", 2: "interrupted"}.get(int(exitstatus), "error")
        self.store.finish_run(self.run_id, status)
        report_ok = self._write_report(outcome)
        return gate_failed or not report_ok

    def _write_report(self, outcome) -> bool:
        """Write the HTML report; False (and the reason kept for the summary) when it broke."""
        if self.gates.report is None:
            return True
        from harness.report import build_report

        path = self._rooted(self.gates.report) if self.gates.report else self.store.path.with_suffix(".html")
        failures = [d.as_dict() for d in outcome.comparison.regressions] if outcome and outcome.comparison else None
        try:
            self.report_path = build_report(self.store.path, run_id=self.run_id, output=path,
                                            baseline=outcome.baseline if outcome else None, gate_failures=failures)
        except Exception as exc:  # noqa: BLE001 - the rows are stored already; fail loudly, lose nothing
            self.report_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    # -- controller: the summary ----------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        if not self.started:
            return []
        by_experiment: dict[str, list[dict]] = defaultdict(list)
        for (experiment, _), row in sorted(self.rows.items()):
            by_experiment[experiment].append(row)
        lines = []
        for experiment, rows in by_experiment.items():
            counts = defaultdict(int)
            for row in rows:
                counts[row["status"]] += 1
            measured = [r for r in rows if _finite(r.get("mse_outside"))]
            timed = [r["seconds"] for r in rows if _finite(r.get("seconds"))]
            text = f"{experiment:<9} {len(rows):>5} cases ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
            if measured:
                worst = max(measured, key=lambda r: r["mse_outside"])
                mean = sum(r["mse_outside"] for r in measured) / len(measured)
                text += f"  mse_outside mean {mean:.2f}, worst {worst['mse_outside']:.2f} ({worst['case_id']})"
            if timed:
                text += f"  {sum(timed) / len(timed):.3f} s/case"
            lines.append(text)
        lines.append(f"store: {self.store.path}  run: {self.run_id}")
        lines.extend(self.gate_lines)
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        if self.report_error:
            lines.append(f"report NOT written: {self.report_error}")
        return lines


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


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
