"""Regression gates: absolute thresholds per case, and comparison with saved baselines."""

from harness.gate.baseline import BaselineError, baseline_from_store, baseline_path, load_baseline, write_baseline
from harness.gate.comparison import Comparison, compare
from harness.gate.engine import BaselineGate, GateOutcome, case_regressions
from harness.gate.thresholds import Threshold, check_thresholds, parse_limit_arg, parse_threshold_table
from harness.gate.tolerance import DEFAULT_TOLERANCES, Tolerance, parse_tolerances

__all__ = [
    "BaselineError",
    "BaselineGate",
    "Comparison",
    "GateOutcome",
    "Threshold",
    "Tolerance",
    "DEFAULT_TOLERANCES",
    "baseline_from_store",
    "baseline_path",
    "case_regressions",
    "check_thresholds",
    "compare",
    "load_baseline",
    "parse_limit_arg",
    "parse_threshold_table",
    "parse_tolerances",
    "write_baseline",
]
