"""The comparison with a saved baseline: its strength curve, per-case deltas, fingerprint changes.

A baseline is the dict of a baseline JSON file (``schema`` 1): ``cases`` maps
``"<experiment>/<case_id>"`` to the case's fields and ``metrics``. Gate failures, when given,
are dicts with ``key``, ``metric``, ``baseline``, ``current``, ``change`` and ``tolerance``.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from harness.gate.baseline import BaselineError, validate_baseline
from harness.gate.comparison import fingerprint_changes as gate_fingerprint_changes
from harness.report.data import StrengthCurves, strength_curves

__all__ = ["BaselineError", "check_baseline", "baseline_frame", "baseline_curves", "delta_rows", "fingerprint_changes",
           "aggregate_rows"]


def check_baseline(baseline: dict) -> dict:
    """Return ``baseline`` if it is a baseline this harness reads, else raise :class:`BaselineError`."""
    return validate_baseline(baseline, "given to the report")


def baseline_frame(baseline: dict) -> pd.DataFrame:
    """The baseline's cases as rows shaped like ``Store.frame`` (metrics flattened)."""
    records = []
    for key, case in check_baseline(baseline)["cases"].items():
        experiment, _, case_id = key.partition("/")
        record = {"experiment": case.get("experiment", experiment), "case_id": case.get("case_id", case_id),
                  "image": case.get("image"), "strength": case.get("strength"), "radius": case.get("radius"),
                  "seconds": case.get("seconds"), "mse_outside": math.nan}
        record.update(case.get("metrics") or {})
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=None if records else ["experiment", "mse_outside"])
    for column in ("strength", "radius", "mse_outside"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def baseline_curves(baseline: dict) -> StrengthCurves | None:
    """The baseline's strength curves (``None`` when it has no measured strength case)."""
    return strength_curves(baseline_frame(baseline))


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def delta_rows(frame: pd.DataFrame, baseline: dict, failures: list[dict] | None = None) -> list[dict]:
    """One row per case in either run with its ``mse_outside`` then and now, plus a row for each
    gate failure on another metric. Failing rows come first and have ``failing`` set."""
    failed = {(f.get("key"), f.get("metric")): f for f in failures or []}
    now = {f"{e}/{c}": m for e, c, m in zip(frame.experiment, frame.case_id, frame.mse_outside)}
    cases = check_baseline(baseline)["cases"]
    then = {key: (case.get("metrics") or {}).get("mse_outside") for key, case in cases.items()}
    rows = [_delta(key, "mse_outside", then.get(key), now.get(key), failed.get((key, "mse_outside")))
            for key in sorted(set(now) | set(then))]
    rows += [_delta(key, metric, f.get("baseline"), f.get("current"), f)
             for (key, metric), f in sorted(failed.items(), key=lambda kv: str(kv[0])) if metric != "mse_outside"]
    return sorted(rows, key=lambda r: not r["failing"])


def _delta(key: str, metric: str, baseline, current, failure: dict | None) -> dict:
    before, after = _number(baseline), _number(current)
    change = after - before
    relative = change / before if math.isfinite(before) and before != 0 else math.nan
    return {"key": key, "metric": metric, "baseline": before, "current": after, "change": change,
            "relative": relative, "failing": failure is not None,
            "tolerance": "" if failure is None else str(failure.get("tolerance", ""))}


def fingerprint_changes(baseline: dict, fingerprint: dict | None) -> list[tuple[str, str, str]]:
    """``(key, baseline value, current value)`` as text for every fingerprint entry that differs
    (the gate's comparison, so the report and the terminal list the same changes)."""
    return [(key, _text(before), _text(after))
            for key, before, after in gate_fingerprint_changes(baseline.get("fingerprint") or {}, fingerprint or {})]


def _text(value) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def aggregate_rows(verdicts: list[dict] | None) -> list[dict]:
    """The gate's group verdicts (``GroupVerdict.as_dict``) as table rows: group, metric, cases,
    change and interval as text (relative in %, else absolute), limit, verdict; worse first."""
    rows = []
    for v in verdicts or []:
        def text(x: float, relative: bool = v["relative"]) -> str:
            return f"{round(100 * x, 1) + 0.0:+.1f}%" if relative else f"{float(f'{x:.4g}') + 0.0:+.4g}"

        group = v["experiment"] if v["strength"] is None else f"{v['experiment']} s={v['strength']:g}"
        sign = "+" if v["direction"] == "lower" else "-"
        limit = f"{sign}{100 * v['limit']:.0f}%" if v["relative"] else f"{sign}{v['limit']:g}"
        rows.append({"group": group, "metric": v["metric"], "n": v["n"], "paired": v["paired"],
                     "change": text(v["change"]), "interval": f"[{text(v['low'])}, {text(v['high'])}]",
                     "limit": limit, "verdict": v["verdict"], "failing": v["verdict"] == "worse"})
    return sorted(rows, key=lambda r: not r["failing"])
