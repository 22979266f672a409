"""Saved baselines and the comparison that gates an upgrade.

One engine owns the lifecycle (as pytest-regressions does): a missing baseline fails and says which
command writes it; a mismatch writes ``NAME.obtained.json`` beside it and fails with every
difference; ``--leak-update-baseline`` rewrites it on purpose. A baseline is plain JSON::

    {"schema": 1, "name": ..., "created": ..., "preset": ..., "options": {...}, "fingerprint": {...},
     "cases": {"strength/coffee-s0.20-r0.80-seed0": {"experiment": ..., "case_id": ..., "image": ...,
               "strength": ..., "radius": ..., "seed": ..., "metrics": {...}, "seconds": ...}}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.atomic import write_atomic
from harness.gate.tolerance import Tolerance
from harness.store import Store

__all__ = [
    "BASELINE_SCHEMA",
    "BaselineError",
    "Comparison",
    "Difference",
    "baseline_path",
    "baseline_from_store",
    "write_baseline",
    "load_baseline",
    "validate_baseline",
    "compare",
    "fingerprint_changes",
    "fingerprint_diff",
]

BASELINE_SCHEMA = 1

# Options that change what a number means: a baseline recorded under others is not comparable.
COMPARABLE_OPTIONS = ("max_side", "steps", "paste_back", "guidance_scale", "prompt", "scheduler")
_CASE_FIELDS = ("experiment", "case_id", "image", "strength", "radius", "seed")
_METRICS = ("mse_outside", "psnr_outside", "mae_outside", "max_abs_outside", "changed_frac", "mse_inside", "n_outside")


class BaselineError(Exception):
    """A baseline file that cannot be used: missing, corrupt, foreign, or of another design."""


def baseline_path(name: str, root: Path) -> Path:
    """``root/baselines/NAME.json``, or ``NAME`` itself when it is a path ending in ``.json``."""
    if name.endswith(".json"):
        path = Path(name)
        return path if path.is_absolute() else root / path
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise BaselineError(f"baseline name {name!r} must be a plain name (or a path ending in .json)")
    return root / "baselines" / f"{name}.json"


def baseline_from_store(store: Store, run_id: str | None = None, *, name: str) -> dict:
    """A baseline document from one run's measured rows (skipped and unmeasured rows left out)."""
    run = store.run(run_id)
    frame = store.frame(run["run_id"])
    cases = {}
    for row in frame.to_dict("records"):
        if _missing(row.get("mse_outside")):
            continue
        case = {k: _plain(row[k]) for k in _CASE_FIELDS}
        case["metrics"] = {m: _plain(row[m]) for m in _METRICS}
        case["seconds"] = _plain(row["seconds"])
        cases[f"{row['experiment']}/{row['case_id']}"] = case
    return {
        "schema": BASELINE_SCHEMA,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_id": run["run_id"],
        "preset": run["preset"],
        "options": run["options"],
        "fingerprint": run["fingerprint"],
        "cases": dict(sorted(cases.items())),
    }


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value):
    """JSON-friendly scalars: numpy -> python, NaN -> None, inf kept as a string JSON accepts."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def write_baseline(document: dict, path: Path) -> Path:
    """Write a baseline (or an ``.obtained`` file) as stable, diff-friendly JSON; a path that
    cannot be written is a :class:`BaselineError` naming it (the old file, if any, is kept)."""
    try:
        return write_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from exc


def load_baseline(path: Path) -> dict:
    """Read and validate a baseline file; every problem is a :class:`BaselineError` naming the file."""
    if not path.is_file():
        raise BaselineError(f"baseline {path} does not exist")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON ({exc}); delete it or rewrite it") from None
    return validate_baseline(document, str(path))


def validate_baseline(document, source: str = "baseline") -> dict:
    """``document`` if it is a baseline this harness reads, else :class:`BaselineError` naming ``source``."""
    if not isinstance(document, dict) or "schema" not in document or not isinstance(document.get("cases"), dict):
        raise BaselineError(f"{source} is not a leakage baseline (no schema and cases)")
    if document["schema"] != BASELINE_SCHEMA:
        raise BaselineError(
            f"baseline {source} has schema {document['schema']!r}; this harness reads schema {BASELINE_SCHEMA}: "
            "rewrite it with --leak-update-baseline"
        )
    for key, expected in (("name", str), ("options", dict), ("fingerprint", (dict, type(None)))):
        if not isinstance(document.get(key), expected):
            wanted = {"name": "a string", "options": "a table", "fingerprint": "a table"}[key]
            found = "it is missing" if key not in document else f"found {document[key]!r}"
            raise BaselineError(f"baseline {source}: key {key!r} must be {wanted}, {found}")
    for key, case in document["cases"].items():
        if not isinstance(case, dict) or not isinstance(case.get("metrics"), dict):
            raise BaselineError(f"baseline {source}: case {key!r} has no metrics table")
        for metric, value in case["metrics"].items():
            if not _is_metric_value(value):
                raise BaselineError(f"baseline {source}: case {key!r} key 'metrics.{metric}' must be a number, "
                                    f"found {value!r}")
    return document


def _is_metric_value(value) -> bool:
    """A number, ``None`` (not measured), or the ``"inf"``/``"-inf"`` that :func:`_plain` writes."""
    if value is None or value in ("inf", "-inf"):
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    new: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    fingerprint_changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.problems)


def refuse_incomparable(baseline: dict, current: dict, path: Path) -> None:
    """Raise :class:`BaselineError` when the baseline was measured under another design."""
    if baseline.get("preset") != current.get("preset"):
        raise BaselineError(
            f"baseline {path} was recorded with preset {baseline.get('preset')!r}, this run uses "
            f"{current.get('preset')!r}: compare like with like, or save a baseline for this preset"
        )
    differing = [
        f"{key} {baseline['options'].get(key)!r} -> {current['options'].get(key)!r}"
        for key in COMPARABLE_OPTIONS
        if baseline.get("options", {}).get(key) != current.get("options", {}).get(key)
    ]
    if differing:
        raise BaselineError(f"baseline {path} was measured under other settings: {'; '.join(differing)}")


def compare(baseline: dict, current: dict, tolerances: dict[str, Tolerance], *, path: Path) -> Comparison:
    """Compare every case of ``current`` with ``baseline`` on each metric that has a tolerance."""
    refuse_incomparable(baseline, current, path)
    result = Comparison(baseline.get("name", path.stem), path)
    base_cases, now_cases = baseline["cases"], current["cases"]
    result.new = sorted(set(now_cases) - set(base_cases))
    result.gone = sorted(set(base_cases) - set(now_cases))
    for key in sorted(set(base_cases) & set(now_cases)):
        result.compared += 1
        for metric, tol in tolerances.items():
            before = _number(base_cases[key]["metrics"].get(metric))
            after = _number(now_cases[key]["metrics"].get(metric))
            if before is None or after is None:
                continue
            verdict = tol.judge(before, after)
            if verdict == "worse":
                result.regressions.append(Difference(key, metric, before, after, tol))
            elif verdict == "better":
                result.improvements.append(Difference(key, metric, before, after, tol))
    if result.compared == 0:
        result.problems.append(f"no case of this run is in baseline {path}: nothing was compared")
    result.fingerprint_changes = fingerprint_diff(baseline.get("fingerprint") or {}, current.get("fingerprint") or {})
    return result


def _number(value) -> float | None:
    if value is None:
        return None
    return float(value)  # "inf" strings parse too


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
