"""Absolute limits asserted on every case: ``mse_outside <= 60`` for strength <= 0.5, and so on.

Configured as an array of tables in ``pyproject.toml``::

    [[tool.leakage.thresholds]]
    experiment = "strength"      # optional: every experiment when absent
    metric = "mse_outside"
    max = 60                     # and/or min = ...
    strength = [0.0, 0.5]        # optional inclusive range

and on the command line with ``--leak-max mse_outside=60`` / ``--leak-min psnr_outside=25``
(every experiment, every strength). Errors in either are found when pytest starts.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from harness.cases import EXPERIMENTS
from harness.metrics import METRIC_NAMES

__all__ = ["Threshold", "parse_threshold_table", "parse_limit_arg", "check_thresholds"]

_TABLE_KEYS = {"experiment", "metric", "max", "min", "strength"}
_LIMITED_METRICS = tuple(m for m in METRIC_NAMES if m != "n_outside") + ("seconds",)


@dataclass(frozen=True)
class Threshold:
    """One limit on one metric, for the cases of an experiment within a strength range."""

    metric: str
    max: float | None = None
    min: float | None = None
    experiment: str | None = None
    strength: tuple[float, float] | None = None
    source: str = "command line"

    def applies(self, row: dict) -> bool:
        if self.experiment is not None and row.get("experiment") != self.experiment:
            return False
        if self.strength is not None:
            strength = row.get("strength")
            if strength is None or not self.strength[0] <= strength <= self.strength[1]:
                return False
        return True

    def fails(self, row: dict) -> str | None:
        """A message naming case, metric, value and limit when ``row`` breaks this limit."""
        if not self.applies(row):
            return None
        value = row.get(self.metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None  # nothing measured: the case has already failed for that reason
        if self.max is not None and value > self.max:
            return f"{row['case_id']}: {self.metric} = {value:.4g} > limit {self.max:g}{self._scope()}"
        if self.min is not None and value < self.min:
            return f"{row['case_id']}: {self.metric} = {value:.4g} < limit {self.min:g}{self._scope()}"
        return None

    def _scope(self) -> str:
        parts = [f"experiment {self.experiment}"] if self.experiment else []
        if self.strength:
            parts.append(f"strength {self.strength[0]:g}..{self.strength[1]:g}")
        parts.append(self.source)
        return " (" + ", ".join(parts) + ")"


def check_thresholds(thresholds: list[Threshold], row: dict) -> list[str]:
    """Every limit ``row`` breaks, as messages."""
    return [msg for t in thresholds if (msg := t.fails(row))]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{where} must be a number, got {value!r}")
    return float(value)


def _metric(name, where: str) -> str:
    if name not in _LIMITED_METRICS:
        raise ValueError(f"{where}: unknown metric {name!r}; expected one of {', '.join(_LIMITED_METRICS)}")
    return name


def parse_threshold_table(entries) -> list[Threshold]:
    """Parse ``[[tool.leakage.thresholds]]``; raise ``ValueError`` naming the entry and the problem."""
    if not isinstance(entries, list):
        raise ValueError("[tool.leakage.thresholds] must be an array of tables ([[tool.leakage.thresholds]])")
    out = []
    for i, entry in enumerate(entries, 1):
        where = f"[[tool.leakage.thresholds]] #{i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a table, got {entry!r}")
        unknown = sorted(set(entry) - _TABLE_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(_TABLE_KEYS))}")
        metric = _metric(entry.get("metric"), where)
        low = _number(entry["min"], f"{where} min") if "min" in entry else None
        high = _number(entry["max"], f"{where} max") if "max" in entry else None
        if low is None and high is None:
            raise ValueError(f"{where}: give max and/or min for {metric}")
        if low is not None and high is not None and low > high:
            raise ValueError(f"{where}: min {low:g} is above max {high:g}")
        experiment = entry.get("experiment")
        if experiment is not None and experiment not in EXPERIMENTS:
            raise ValueError(f"{where}: unknown experiment {experiment!r}; expected one of {', '.join(EXPERIMENTS)}")
        out.append(Threshold(metric, high, low, experiment, _strength_range(entry.get("strength"), where), where))
    return out


def _strength_range(value, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        raise ValueError(f"{where}: strength must be a range [low, high], got {value!r}")
    low, high = (_number(v, f"{where} strength") for v in value)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"{where}: strength range [{low:g}, {high:g}] must lie within [0, 1], low <= high")
    return low, high


def parse_limit_arg(kind: str):
    """An argparse ``type=`` for ``--leak-max`` / ``--leak-min``: ``METRIC=VALUE``."""

    def parse(text: str) -> Threshold:
        metric, sep, value = text.partition("=")
        metric = metric.strip()
        if not sep:
            raise argparse.ArgumentTypeError(f"{text!r} is not METRIC=VALUE (e.g. mse_outside=60)")
        if metric not in _LIMITED_METRICS:
            raise argparse.ArgumentTypeError(f"unknown metric {metric!r}; expected one of {', '.join(_LIMITED_METRICS)}")
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value.strip()!r} in {text!r} is not a number") from None
        if math.isnan(number):
            raise argparse.ArgumentTypeError(f"{text!r}: a limit cannot be NaN")
        limits = {"max": number} if kind == "max" else {"min": number}
        return Threshold(metric, source=f"--leak-{kind}", **limits)

    return parse
