"""Leakage across runs: per experiment, each run's mean ``mse_outside`` with its interval, in time
order, labelled with what changed since the run before (the way asv plots a benchmark across
commits).

A series holds every run in the store with the same preset and pipeline reference as the chosen
run. The interval is the bootstrap interval of the mean over the run's measured cases
(:func:`~harness.gate.stats.bootstrap_mean`; the resampling unit is the case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.gate.comparison import COMPARABLE_OPTIONS, fingerprint_diff, machine_diff
from harness.gate.stats import bootstrap_mean
from harness.store import Store

__all__ = ["HistoryPoint", "RunHistory", "run_history", "series_records", "changes_between"]

#: Options whose change is worth a label besides those that change what a number means.
_LABELLED_OPTIONS = (*COMPARABLE_OPTIONS, "seeds", "images", "dtype", "threads")


@dataclass(frozen=True)
class HistoryPoint:
    """One run's mean ``mse_outside`` in one experiment, its interval, and what changed."""

    run_id: str
    name: str | None
    started: str
    status: str
    experiment: str
    cases: int
    mean: float
    low: float
    high: float
    changes: tuple[str, ...]  # since the previous run of the series; empty for the first

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "name": self.name, "started": self.started, "status": self.status,
                "experiment": self.experiment, "cases": self.cases, "mean": self.mean, "low": self.low,
                "high": self.high, "changes": list(self.changes)}


@dataclass(frozen=True)
class RunHistory:
    """The series: which preset and pipeline, its runs in time order, and their points."""

    preset: str | None
    pipeline: str | None
    runs: list[dict]  # run records (Store.run) in time order
    points: list[HistoryPoint]

    def experiments(self) -> list[str]:
        return sorted({p.experiment for p in self.points})

    def series(self, experiment: str) -> list[HistoryPoint]:
        return [p for p in self.points if p.experiment == experiment]


def changes_between(before: dict | None, after: dict) -> list[str]:
    """What differs from one run record to the next: fingerprint, machine, labelled options."""
    if before is None:
        return []
    old, new = before.get("options") or {}, after.get("options") or {}
    options = [f"{key} {_text(old.get(key))} -> {_text(new.get(key))}"
               for key in _LABELLED_OPTIONS if old.get(key) != new.get(key)]
    return [*fingerprint_diff(before.get("fingerprint") or {}, after.get("fingerprint") or {}),
            *machine_diff(before, after), *options]


def series_records(store: Store, run_id: str | None = None) -> list[dict]:
    """The records of every run of the same preset and pipeline as ``run_id`` (latest by default),
    in time order; reads no result rows."""
    chosen = store.run(run_id)
    preset, pipeline = chosen.get("preset"), (chosen.get("options") or {}).get("pipeline")
    records = [store.run(r) for r in store.runs().run_id]
    return [r for r in records if r.get("preset") == preset and (r.get("options") or {}).get("pipeline") == pipeline]


def run_history(store: Store, run_id: str | None = None) -> RunHistory:
    """The series of the run ``run_id`` (latest by default): every run of its preset and pipeline."""
    chosen = store.run(run_id)
    preset, pipeline = chosen.get("preset"), (chosen.get("options") or {}).get("pipeline")
    series = series_records(store, run_id)
    points, previous = [], None
    for record in series:
        changes = tuple(changes_between(previous, record))
        points.extend(_points(store, record, changes))
        previous = record
    return RunHistory(preset, pipeline, series, points)


def _points(store: Store, record: dict, changes: tuple[str, ...]) -> list[HistoryPoint]:
    frame = store.frame(record["run_id"], profiles=False)  # only mse_outside is read
    out = []
    for experiment, group in frame.groupby("experiment", sort=True):
        values = group.mse_outside.to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        interval = bootstrap_mean(values)
        out.append(HistoryPoint(record["run_id"], _name(record.get("name")), str(record["started"]),
                                str(record["status"]), str(experiment), int(values.size), interval.estimate,
                                interval.low, interval.high, changes))
    return out


def _name(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _text(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) if len(value) <= 6 else f"{value[0]}..{value[-1]} ({len(value)})"
    return "(none)" if value is None else str(value)
