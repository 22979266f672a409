"""The noise-aware gate: each (experiment, strength) group's mean relative change, with its interval.

A *condition* is a case without its seed (``strength/coffee-s0.50-r0.80``); a *group* is every
condition of one experiment at one strength (images x radii). For each case measured now whose
condition the baseline holds, the reference is the baseline's value at the same seed when it has
that seed, else the baseline's mean over its seeds of that condition. Each case gives one relative
change (:func:`~harness.gate.stats.relative_changes`); the resampling unit of the bootstrap is that
case (one image/radius at one seed), so the interval reflects how the change varies over images
and noise draws. A group fails only when its whole interval lies beyond the tolerance.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from harness.gate.stats import Interval, bootstrap_mean, relative_changes
from harness.gate.tolerance import Tolerance

__all__ = ["GroupVerdict", "aggregate", "condition_of", "number"]

_SEED_SUFFIX = re.compile(r"-seed\d+$")


@dataclass(frozen=True)
class GroupVerdict:
    """One group's change on one metric: ``interval`` of ``(now - reference) / scale`` (relative
    when the tolerance has a relative part, else absolute), judged against ``limit``."""

    experiment: str
    strength: float | None
    metric: str
    tolerance: Tolerance
    interval: Interval
    paired: int  # cases compared with the baseline's value at the same seed
    verdict: str  # worse | better | within

    @property
    def group(self) -> tuple[str, float | None]:
        return self.experiment, self.strength

    @property
    def n(self) -> int:
        return self.interval.n

    @property
    def relative(self) -> bool:
        return self.tolerance.rel > 0

    @property
    def limit(self) -> float:
        """The allowed change in the units of ``interval``."""
        return self.tolerance.rel if self.relative else self.tolerance.abs

    @property
    def label(self) -> str:
        return self.experiment if self.strength is None else f"{self.experiment} s={self.strength:g}"

    def describe_change(self, value: float) -> str:
        # rounded first, and + 0.0 drops the sign of a zero (a -1e-15 change reads +0.0 %, not -0.0 %)
        return f"{round(100 * value, 1) + 0.0:+.1f}%" if self.relative else f"{float(f'{value:.4g}') + 0.0:+.4g}"

    def describe_limit(self) -> str:
        sign = "+" if self.tolerance.direction == "lower" else "-"
        return f"{sign}{self.limit:.0%}" if self.relative else f"{sign}{self.limit:g}"

    def as_dict(self) -> dict:
        return {"experiment": self.experiment, "strength": self.strength, "metric": self.metric, "n": self.n,
                "paired": self.paired, "change": self.interval.estimate, "low": self.interval.low,
                "high": self.interval.high, "relative": self.relative, "limit": self.limit,
                "direction": self.tolerance.direction, "verdict": self.verdict}


def number(value) -> float | None:
    """A baseline or row value as a float (``"inf"`` strings too); ``None`` when absent or NaN."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def condition_of(case: dict) -> tuple[str, str]:
    """``(experiment, case id without its seed)``: what the seeds of one case share."""
    return case["experiment"], _SEED_SUFFIX.sub("", case["case_id"])


def aggregate(baseline_cases: dict, current_cases: dict, tolerances: dict[str, Tolerance]) -> list[GroupVerdict]:
    """Every group's verdict on every metric with a tolerance, in a stable order.

    ``baseline_cases`` and ``current_cases`` are the ``cases`` of two baseline documents. Cases
    whose condition the baseline lacks, and values that are missing or not finite on either
    side (an ``inf`` PSNR), are left out of their group.
    """
    by_condition: dict[tuple, dict] = defaultdict(dict)
    for case in baseline_cases.values():
        by_condition[condition_of(case)][case.get("seed")] = case["metrics"]
    out = []
    for (experiment, strength), cases in _groups(current_cases, by_condition).items():
        for metric, tol in tolerances.items():
            now, ref, paired = _pairs(cases, by_condition, metric)
            if not now:
                continue
            out.append(_verdict(experiment, strength, metric, tol, np.array(now), np.array(ref), paired))
    return out


def _groups(current_cases: dict, by_condition: dict) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for key in sorted(current_cases):
        case = current_cases[key]
        if condition_of(case) in by_condition:
            groups[(case["experiment"], number(case.get("strength")))].append(case)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], -1.0 if kv[0][1] is None else kv[0][1])))


def _pairs(cases: list[dict], by_condition: dict, metric: str) -> tuple[list[float], list[float], int]:
    """This run's values and their references for one metric, and how many are same-seed pairs."""
    now, ref, paired = [], [], 0
    for case in cases:
        value = number(case["metrics"].get(metric))
        seeds = by_condition[condition_of(case)]
        if case.get("seed") in seeds:
            reference = number(seeds[case.get("seed")].get(metric))
            same_seed = True
        else:
            values = [number(m.get(metric)) for m in seeds.values()]
            values = [v for v in values if v is not None and math.isfinite(v)]
            reference = sum(values) / len(values) if values else None
            same_seed = False
        if value is None or reference is None or not (math.isfinite(value) and math.isfinite(reference)):
            continue
        now.append(value)
        ref.append(reference)
        paired += same_seed
    return now, ref, paired


def _verdict(experiment: str, strength: float | None, metric: str, tol: Tolerance, now: np.ndarray,
             ref: np.ndarray, paired: int) -> GroupVerdict:
    if tol.rel > 0:
        # the floor abs/rel turns the absolute part of the tolerance into the same relative limit
        changes = relative_changes(now, ref, floor=tol.abs / tol.rel)
        limit = tol.rel
    else:
        changes = now - ref
        limit = tol.abs
    interval = bootstrap_mean(changes)
    worse, better = (interval.low > limit, interval.high < -limit)
    if tol.direction == "higher":
        worse, better = (interval.high < -limit, interval.low > limit)
    verdict = "worse" if worse else "better" if better else "within"
    return GroupVerdict(experiment, strength, metric, tol, interval, paired, verdict)
