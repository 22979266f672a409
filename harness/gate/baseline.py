"""Saved baselines and the comparison that gates an upgrade.

One engine owns the lifecycle (as pytest-regressions does): a missing baseline fails and says which
command writes it; a mismatch writes ``NAME.obtained.json`` beside it and fails with every
difference; ``--leak-update-baseline`` rewrites it on purpose. A baseline is plain JSON::

    {"schema": 2, "name": ..., "created": ..., "run_id": ..., "preset": ..., "options": {...},
     "fingerprint": {...}, "machine": {...}, "seeds": [0, 1, 2],
     "cases": {"strength/coffee-s0.20-r0.80-seed0": {"experiment": ..., "case_id": ..., "image": ...,
               "strength": ..., "radius": ..., "seed": ..., "metrics": {...}, "seconds": ...}}}

``cases`` holds one entry per case *and seed* the run measured: the noise-aware gate pools them.
Schema 2 adds ``seeds`` (the seeds the run measured, so a seed shift is told from missing cases)
and ``machine``; every metric value is a finite number (``psnr_outside`` may be ``"inf"``: nothing
changed). Schema 1 files are still read: their seeds come from the cases.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

from harness.atomic import write_atomic
from harness.store import Store

__all__ = [
    "BASELINE_SCHEMA",
    "READABLE_SCHEMAS",
    "BaselineError",
    "baseline_path",
    "baseline_from_store",
    "case_seeds",
    "write_baseline",
    "load_baseline",
    "validate_baseline",
]

BASELINE_SCHEMA = 2
READABLE_SCHEMAS = (1, 2)

_CASE_FIELDS = ("experiment", "case_id", "image", "strength", "radius", "seed")
_METRICS = ("mse_outside", "psnr_outside", "mae_outside", "max_abs_outside", "changed_frac", "mse_inside", "n_outside",
            "color_shift_outside", "ssim_outside", "detail_loss_outside", "seam", "mse_floor", "mse_excess")


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
        if case["seed"] is not None:
            case["seed"] = int(case["seed"])  # a float in the frame when the floor's seeds are NULL
        # an unmeasured metric (mse_inside of an empty mask) is left out, never written as null
        case["metrics"] = {m: _plain(row[m]) for m in _METRICS if not _missing(row.get(m))}
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
        "machine": run.get("machine") or {},
        "seeds": case_seeds(cases),
        "cases": dict(sorted(cases.items())),
    }


def case_seeds(cases: dict) -> list[int]:
    """The distinct seeds of a baseline's cases (the floor's seed-free cases have none)."""
    seeds = (case.get("seed") for case in cases.values())
    return sorted({int(s) for s in seeds if isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)})


def _missing(value) -> bool:
    return value is None or _is_pandas_na(value) or (isinstance(value, float) and math.isnan(value))


def _is_pandas_na(value) -> bool:
    """``value is pd.NA``, without importing pandas where no frame was made (then there is no NA)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and value is pandas.NA


def _plain(value):
    """JSON-friendly scalars: numpy -> python, NaN -> None, inf kept as a string JSON accepts."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or _is_pandas_na(value):
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
    if not path.exists():
        raise BaselineError(f"baseline {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a folder, no permission, an I/O error
        raise BaselineError(f"baseline {path} cannot be read: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON ({exc}); delete it or rewrite it") from None
    return validate_baseline(document, str(path))


def validate_baseline(document, source: str = "baseline") -> dict:
    """``document`` if it is a baseline this harness reads, else :class:`BaselineError` naming ``source``.

    Every metric value must be a finite number (``psnr_outside`` may also be ``"inf"``, what an
    unchanged output gives): a null or NaN would otherwise silently drop out of the comparison.
    """
    if not isinstance(document, dict) or "schema" not in document or not isinstance(document.get("cases"), dict):
        raise BaselineError(f"{source} is not a leakage baseline (no schema and cases)")
    if document["schema"] not in READABLE_SCHEMAS:
        raise BaselineError(
            f"baseline {source} has schema {document['schema']!r}; this harness reads schema "
            f"{' or '.join(map(str, READABLE_SCHEMAS))}: rewrite it with --leak-update-baseline"
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
            problem = _not_finite(metric, value)
            if problem:
                raise BaselineError(f"baseline {source}: case {key!r} metric {metric} is {problem}; "
                                    "every metric value must be a finite number")
    return document


def _not_finite(metric: str, value) -> str | None:
    """What is wrong with a baseline's metric value, or ``None`` when it is usable."""
    if metric == "psnr_outside" and value in ("inf", math.inf):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r}, not a number"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else f"{value!r}"
    return None
