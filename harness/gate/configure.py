"""The gates a session runs, built from its options before any case runs.

Thresholds, tolerances and the baseline actions are parsed and checked here, when pytest starts,
so a typo or an unwritable path costs nothing: every problem is a ``ValueError`` (or a
:class:`~harness.gate.BaselineError`) that the plugin turns into a usage error.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.atomic import check_writable
from harness.gate.baseline import baseline_path
from harness.gate.engine import BaselineGate
from harness.gate.thresholds import Threshold, parse_threshold_table
from harness.gate.tolerance import parse_tolerances

__all__ = ["Gates", "build_gates", "rerun_command"]


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
