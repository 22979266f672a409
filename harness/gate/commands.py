"""``leakage compare A B`` and ``leakage history``: the gate's engine on stored runs and baselines.

``A`` and ``B`` are each a baseline (a name in ``ROOT/baselines/`` or a path ending in ``.json``)
or a run in the store (an id or a unique prefix): both become baseline documents and go through
:func:`~harness.gate.comparison.compare`, so the verdict and the table are the session's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.export import strict_json
from harness.gate.baseline import BaselineError, baseline_from_store, baseline_path, load_baseline
from harness.gate.comparison import compare
from harness.gate.describe import comparison_lines
from harness.gate.history import run_history
from harness.gate.tolerance import parse_tolerances
from harness.options import read_tool_config
from harness.store import Store, StoreError

__all__ = ["compare_command", "history_command", "resolve_document"]


def resolve_document(ref: str, store: Store, root: Path) -> dict:
    """The baseline document ``ref`` names: a baseline file if one exists by that name, else a
    run of ``store``. Raises :class:`BaselineError` naming both places when it is neither."""
    try:
        path = baseline_path(ref, root)
    except BaselineError:  # not a baseline name (a path without .json, say): a run then
        path = None
    if path is not None and path.exists():
        return load_baseline(path)
    try:
        return baseline_from_store(store, ref, name=ref)
    except StoreError as exc:
        where = f"a baseline ({path} does not exist)" if path is not None else "a baseline"
        raise BaselineError(f"{ref!r} is neither {where} nor a run: {exc}") from None


def compare_command(store_path: str, a: str, b: str, *, root: Path, as_json: bool) -> int:
    """Compare ``b`` with ``a``; print the table (or JSON). Exit code 1 when ``b`` regressed."""
    try:
        tolerances = parse_tolerances(read_tool_config(root).get("tolerances"))
    except ValueError as exc:
        print(f"leakage: {exc}", file=sys.stderr)
        return 2
    store = Store(store_path)
    reference, judged = resolve_document(a, store, root), resolve_document(b, store, root)
    comparison = compare(reference, judged, tolerances, path=Path(a))
    if as_json:
        print(json.dumps(strict_json({"a": a, "b": b, **comparison.as_dict()}), indent=1, allow_nan=False))
    else:
        print(f"{b} against {a}:")
        print("\n".join(comparison_lines(comparison)))
    return 1 if comparison.failed else 0


def history_command(store_path: str, run_id: str | None, *, as_json: bool) -> int:
    """Print the history of the run's preset and pipeline, one block per experiment."""
    history = run_history(Store(store_path), run_id)
    if as_json:
        document = {"preset": history.preset, "pipeline": history.pipeline,
                    "points": [p.as_dict() for p in history.points]}
        print(json.dumps(strict_json(document), indent=1, allow_nan=False))
        return 0
    print(f"preset {history.preset}, pipeline {history.pipeline}: {len(history.runs)} runs; mean mse_outside "
          "per experiment, bootstrap 95% interval over its cases; what changed since the run before")
    for experiment in history.experiments():
        print(f"{experiment}:")
        for p in history.series(experiment):
            changes = "; ".join(p.changes) if p.changes else ("first run" if p.run_id == history.runs[0]["run_id"]
                                                               else "nothing")
            print(f"  {p.run_id}  {p.started[:19]}  {p.status:<9} {p.cases:>5} cases  {p.mean:>10.2f}  "
                  f"[{p.low:.2f}, {p.high:.2f}]  {changes}")
    return 0
