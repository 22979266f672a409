"""Comparing two baseline documents: per-case verdicts, the noise-aware aggregate, what changed.

Both sides are baseline-shaped dicts (a saved baseline, or :func:`baseline_from_store` of a run),
so a run against a baseline and ``leakage compare A B`` are the same comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.gate.aggregate import GroupVerdict, aggregate, condition_of, number
from harness.gate.baseline import BaselineError, case_seeds
from harness.gate.tolerance import Tolerance

__all__ = [
    "COMPARABLE_OPTIONS",
    "Comparison",
    "Difference",
    "case_differences",
    "compare",
    "fingerprint_changes",
    "fingerprint_diff",
    "machine_diff",
    "refuse_incomparable",
]

# Options that change what a number means: a baseline recorded under others is not comparable.
COMPARABLE_OPTIONS = ("max_side", "steps", "paste_back", "guidance_scale", "prompt", "scheduler", "resize")
# Runs from before schedulers were named by their diffusers class recorded the preset's short name.
_FORMER_SCHEDULER_NAMES = {"PNDM": "PNDMScheduler", "DDIM": "DDIMScheduler", "Euler": "EulerDiscreteScheduler"}
# What a record from before an option existed was measured with.
_OPTION_BEFORE = {"resize": "crop"}


@dataclass(frozen=True)
class Difference:
    """One case's metric beyond its tolerance."""

    key: str
    metric: str
    baseline: float
    current: float
    tolerance: Tolerance

    @property
    def change(self) -> float:
        return self.current - self.baseline

    @property
    def relative(self) -> float | None:
        return self.change / self.baseline if self.baseline else None

    def message(self) -> str:
        """One line: metric, baseline, now, change, tolerance."""
        rel = f" ({self.relative:+.1%})" if self.relative is not None else ""
        return (f"{self.metric} baseline {self.baseline:.6g}, now {self.current:.6g}, change {self.change:+.4g}{rel}, "
                f"tolerance {self.tolerance.describe()}")

    def as_dict(self) -> dict:
        return {"key": self.key, "metric": self.metric, "baseline": self.baseline, "current": self.current,
                "change": self.change, "tolerance": self.tolerance.describe()}


@dataclass
class Comparison:
    """Everything a comparison found; ``failed`` when any gate must stop the session."""

    name: str
    path: Path
    compared: int = 0
    regressions: list[Difference] = field(default_factory=list)
    improvements: list[Difference] = field(default_factory=list)
    aggregate: list[GroupVerdict] = field(default_factory=list)
    new: list[str] = field(default_factory=list)  # cases whose image/strength/radius the baseline lacks
    gone: list[str] = field(default_factory=list)  # the baseline's cases whose condition was not measured now
    unmatched: list[str] = field(default_factory=list)  # at a seed the baseline lacks: the aggregate judges them
    unused: list[str] = field(default_factory=list)  # the baseline's other seeds of conditions measured now
    seeds: tuple[list[int], list[int]] = ([], [])  # the baseline's, this run's
    fingerprint_changes: list[str] = field(default_factory=list)
    machine_changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def aggregate_failures(self) -> list[GroupVerdict]:
        return [g for g in self.aggregate if g.verdict == "worse"]

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.problems or self.aggregate_failures)

    def as_dict(self) -> dict:
        """Everything, JSON-ready (``leakage compare --json``)."""
        return {"name": self.name, "path": str(self.path), "failed": self.failed, "compared": self.compared,
                "regressions": [d.as_dict() for d in self.regressions],
                "improvements": [d.as_dict() for d in self.improvements],
                "aggregate": [g.as_dict() for g in self.aggregate],
                "new": self.new, "gone": self.gone, "unmatched": self.unmatched, "unused": self.unused,
                "seeds": {"baseline": self.seeds[0], "current": self.seeds[1]},
                "fingerprint_changes": self.fingerprint_changes, "machine_changes": self.machine_changes,
                "problems": self.problems}


def refuse_incomparable(baseline: dict, current: dict, path: Path) -> None:
    """Raise :class:`BaselineError` when the baseline was measured under another design."""
    if baseline.get("preset") != current.get("preset"):
        raise BaselineError(
            f"baseline {path} was recorded with preset {baseline.get('preset')!r}, this run uses "
            f"{current.get('preset')!r}: compare like with like, or save a baseline for this preset"
        )
    before, after = (_comparable_options(document) for document in (baseline, current))
    differing = [f"{key} {before.get(key)!r} -> {after.get(key)!r}"
                 for key in COMPARABLE_OPTIONS if before.get(key) != after.get(key)]
    if differing:
        raise BaselineError(f"baseline {path} was measured under other settings: {'; '.join(differing)}")


def _comparable_options(document: dict) -> dict:
    """A run's or baseline's options, its scheduler named by its diffusers class, options it
    predates at the value it was measured with."""
    options = {**_OPTION_BEFORE, **(document.get("options") or {})}
    options["scheduler"] = _FORMER_SCHEDULER_NAMES.get(options.get("scheduler"), options.get("scheduler"))
    return options


def case_differences(key: str, before: dict, after: dict,
                     tolerances: dict[str, Tolerance]) -> tuple[list[Difference], list[Difference]]:
    """One case's ``(regressions, improvements)``: every metric with a tolerance that both
    ``before`` and ``after`` (metric -> value mappings) hold, judged by that tolerance."""
    worse, better = [], []
    for metric, tol in tolerances.items():
        then, now = number(before.get(metric)), number(after.get(metric))
        if then is None or now is None:
            continue
        verdict = tol.judge(then, now)
        if verdict == "worse":
            worse.append(Difference(key, metric, then, now, tol))
        elif verdict == "better":
            better.append(Difference(key, metric, then, now, tol))
    return worse, better


def compare(baseline: dict, current: dict, tolerances: dict[str, Tolerance], *, path: Path) -> Comparison:
    """Compare ``current`` with ``baseline``: each case the baseline holds at the same seed on each
    metric that has a tolerance, then every (experiment, strength) group in aggregate."""
    refuse_incomparable(baseline, current, path)
    result = Comparison(baseline.get("name", path.stem), path)
    base_cases, now_cases = baseline["cases"], current["cases"]
    base_conditions = {condition_of(case) for case in base_cases.values()}
    now_conditions = {condition_of(case) for case in now_cases.values()}
    for key in sorted(set(now_cases) - set(base_cases)):
        (result.unmatched if condition_of(now_cases[key]) in base_conditions else result.new).append(key)
    for key in sorted(set(base_cases) - set(now_cases)):
        (result.unused if condition_of(base_cases[key]) in now_conditions else result.gone).append(key)
    for key in sorted(set(base_cases) & set(now_cases)):
        result.compared += 1
        worse, better = case_differences(key, base_cases[key]["metrics"], now_cases[key]["metrics"], tolerances)
        result.regressions.extend(worse)
        result.improvements.extend(better)
    result.aggregate = aggregate(base_cases, now_cases, tolerances)
    result.seeds = (case_seeds(base_cases), case_seeds(now_cases))
    if result.compared == 0 and not any(v.n for v in result.aggregate):
        result.problems.append(f"no case of this run is in baseline {path}: nothing was compared")
    result.fingerprint_changes = fingerprint_diff(baseline.get("fingerprint") or {}, current.get("fingerprint") or {})
    result.machine_changes = machine_diff(baseline, current)
    return result


def machine_diff(before: dict, after: dict) -> list[str]:
    """Readable differences between the ``machine`` entries of two records (runs or baselines),
    less the keys their fingerprints also hold (library versions), which the fingerprint lists.
    Nothing when either record has no machine info (a schema 1 baseline): that is no change."""
    if not before.get("machine") or not after.get("machine"):
        return []
    shown = set(before.get("fingerprint") or {}) | set(after.get("fingerprint") or {})
    return [f"{name} {_short(a)} -> {_short(b)}"
            for name, a, b in fingerprint_changes(before.get("machine") or {}, after.get("machine") or {})
            if name not in shown]


def fingerprint_changes(before: dict, after: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """``(key, before, after)`` for every fingerprint entry that differs; nested dicts (the
    scheduler config) are compared key by key, as ``scheduler_config.steps_offset``."""
    changes = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(fingerprint_changes(a, b, prefix=f"{name}."))
        elif a != b:
            changes.append((name, a, b))
    return changes


def fingerprint_diff(before: dict, after: dict) -> list[str]:
    """Readable differences between two fingerprints, e.g. ``diffusers 0.41.0 -> 0.42.1``."""
    return [f"{name} {_short(a)} -> {_short(b)}" for name, a, b in fingerprint_changes(before, after)]


def _short(value) -> str:
    text = "(none)" if value is None else str(value)
    return text if len(text) <= 24 else text[:12] + "…" + text[-6:]
