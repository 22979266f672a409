"""One run's rows as files other tools read: CSV, and JSON records.

The store keeps ``flags`` and ``edge_profile`` as JSON; both exports write them as JSON too (in
CSV as JSON text in the cell), never as Python reprs. In JSON records a missing value is ``null``
and an infinite one (``psnr_outside`` of an unchanged output) the string ``"inf"``, as in baselines:
strict JSON has no NaN or Infinity.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from harness.atomic import atomic_path, write_atomic

__all__ = ["records", "strict_json", "write_csv", "write_json"]

JSON_COLUMNS = ("flags", "edge_profile")


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of a ``Store.frame`` as plain, strict-JSON-ready dicts."""
    return [{key: strict_json(value) for key, value in row.items()} for row in frame.to_dict("records")]


def write_json(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the rows as a JSON array of records."""
    text = json.dumps(records(frame), indent=1, allow_nan=False)
    return write_atomic(path, text + "\n")


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the rows as CSV, the JSON columns as JSON text."""
    out = frame.copy()
    for column in JSON_COLUMNS:
        if column in out:
            out[column] = [None if value is None else json.dumps(value) for value in out[column]]
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def strict_json(value):
    """``value`` with numpy scalars, NaN and infinities made strict JSON, inside lists and dicts too."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value
