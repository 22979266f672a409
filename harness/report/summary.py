"""Tables of the report: the run's record, counts, worst and flagged cases, and every row.

Values are returned raw (numbers stay numbers); the template formats them with the ``num``
filter, and escapes every string.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from markupsafe import escape

from harness.report.data import measured

__all__ = [
    "Column",
    "CASE_COLUMNS",
    "STATUSES",
    "split_fingerprint",
    "flat_items",
    "status_counts",
    "time_summary",
    "worst_cases",
    "flagged_cases",
    "case_rows",
    "case_rows_html",
    "floor_psnr",
    "SD_VAE_PSNR",
    "format_number",
    "pretty_json",
    "collapsed_label",
]

#: Statuses in display order; any other status a row carries is appended.
STATUSES = ("passed", "failed", "error", "skipped")

# Fingerprint keys that describe the software and machine rather than the pipeline.
_ENVIRONMENT = re.compile(r"version|python|platform|torch|diffusers|transformers|numpy|cuda|device|dtype|host", re.I)


@dataclass(frozen=True)
class Column:
    """A column of the all-cases table: the row key, its header, whether it sorts numerically."""

    key: str
    label: str
    numeric: bool


CASE_COLUMNS = (
    Column("experiment", "experiment", False),
    Column("case_id", "case", False),
    Column("image", "image", False),
    Column("strength", "strength", True),
    Column("radius", "radius", True),
    Column("seed", "seed", True),
    Column("mask", "mask", False),
    Column("mitigation", "mitigation", False),
    Column("status", "status", False),
    Column("mse_outside", "MSE out", True),
    Column("mse_excess", "excess", True),
    Column("psnr_outside", "PSNR out (dB)", True),
    Column("mae_outside", "MAE out", True),
    Column("max_abs_outside", "max |Δ| out", True),
    Column("changed_frac", "changed", True),
    Column("color_shift_outside", "colour shift", True),
    Column("ssim_outside", "SSIM out", True),
    Column("detail_loss_outside", "detail lost", True),
    Column("seam", "seam", True),
    Column("mse_inside", "MSE in", True),
    Column("seconds", "seconds", True),
    Column("flags", "flags", False),
)


def format_number(value, digits: int = 4) -> str:
    """A number as short text: ``digits`` significant digits, ``inf``, or ``–`` for missing."""
    if value is None or isinstance(value, str):
        return "–" if value is None else value
    value = float(value)
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}"


def pretty_json(text: str) -> str:
    """``text`` indented for reading when it is a JSON object or array, else unchanged."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return json.dumps(value, indent=1, sort_keys=True) if isinstance(value, (dict, list)) else text


def collapsed_label(text: str) -> str:
    """What a collapsed long value shows before it is opened: ``15 keys`` for a JSON object,
    ``4 items`` for an array, else the text's start (words are not cut in a narrow card)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if isinstance(value, dict):
        return f"{len(value)} keys"
    if isinstance(value, list):
        return f"{len(value)} items"
    return text[:40].rsplit(" ", 1)[0] + " …"


def flat_items(mapping: dict | None) -> list[tuple[str, str]]:
    """``(key, text)`` pairs of a dict; nested values as compact JSON."""
    items = []
    for key, value in sorted((mapping or {}).items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        items.append((str(key), text))
    return items


def split_fingerprint(fingerprint: dict | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The fingerprint as (pipeline items, environment items): versions, device and dtype go to
    the environment, the rest (model, weights, scheduler, ...) to the pipeline."""
    items = flat_items(fingerprint)
    environment = [item for item in items if _ENVIRONMENT.search(item[0])]
    return [item for item in items if item not in environment], environment


def status_counts(frame: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """Statuses present (in :data:`STATUSES` order), and per experiment (then ``all``) its
    ``counts`` per status, ``total``, and ``mean``/``max`` of the measured ``mse_outside``."""
    present = [s for s in STATUSES if (frame.status == s).any()]
    present += sorted(set(frame.status.dropna()) - set(STATUSES))
    groups = [(str(name), group) for name, group in frame.groupby("experiment", sort=True)] + [("all", frame)]
    table = []
    for name, group in groups:
        counts = group.status.value_counts()
        mse = measured(group).mse_outside.astype(float)  # mean and max of no value are nan
        table.append({"experiment": name, "counts": [int(counts.get(s, 0)) for s in present], "total": len(group),
                      "mean": float(mse.mean()), "max": float(mse.max())})
    return present, table


def time_summary(frame: pd.DataFrame) -> dict:
    """Total, mean and median seconds over the cases that recorded a time."""
    seconds = pd.to_numeric(frame.seconds, errors="coerce").dropna()
    if seconds.empty:
        return {"cases": 0, "total": math.nan, "mean": math.nan, "median": math.nan}
    return {"cases": int(seconds.size), "total": float(seconds.sum()), "mean": float(seconds.mean()),
            "median": float(seconds.median())}


def worst_cases(frame: pd.DataFrame, n: int = 10) -> list[dict]:
    """The ``n`` rows with the highest ``mse_outside`` (ties by experiment, case id)."""
    rows = measured(frame)
    ordered = rows.assign(_key=-rows.mse_outside.astype(float)).sort_values(
        ["_key", "experiment", "case_id"], kind="mergesort")
    return ordered.drop(columns="_key").head(n).to_dict("records")


def flagged_cases(frame: pd.DataFrame) -> list[dict]:
    """Rows that did not pass or carry flags, failures first, with their messages."""
    order = {"failed": 0, "error": 1, "skipped": 3}
    flagged = [isinstance(flags, list) and bool(flags) for flags in frame["flags"]]
    rows = frame[(frame.status != "passed").to_numpy() | np.array(flagged, dtype=bool)].to_dict("records")
    return sorted(rows, key=lambda r: (order.get(r["status"], 2), r["experiment"], r["case_id"]))


#: Stable Diffusion 1.5's VAE round trip, PSNR in dB (mean, standard deviation) over COCO 2017 val
#: at 256x256, as published with the kl-f8 decoder fine-tunes (stabilityai/sd-vae-ft-mse): the
#: VAE SD 1.5 ships, and the decoder fine-tuned on MSE. The yardstick for a run's floor.
SD_VAE_PSNR = {"SD 1.5 VAE (kl-f8)": (23.4, 3.8), "its MSE-finetuned decoder (ft-MSE)": (24.5, 3.7)}


def floor_psnr(frame: pd.DataFrame) -> dict | None:
    """The VAE floor as PSNR: per image (mean over its floor rows) and the median over images.

    Returns ``None`` when the run has no measured floor case, else ``{"images": [{"image",
    "psnr", "max_side"}], "median": float, "max_side": int}``, images sorted by name;
    ``max_side`` is the longest side the floor was measured at (the run's largest).
    """
    rows = measured(frame, "floor")
    if rows.empty:
        return None
    sides = np.maximum(pd.to_numeric(rows.height, errors="coerce"), pd.to_numeric(rows.width, errors="coerce"))
    per_image = rows.assign(psnr=pd.to_numeric(rows.psnr_outside, errors="coerce"), side=sides).groupby(
        "image", sort=True).agg(psnr=("psnr", "mean"), side=("side", "max"))
    images = [{"image": str(name), "psnr": float(row.psnr), "max_side": _int_or_none(row.side)}
              for name, row in per_image.iterrows()]
    return {"images": images, "median": float(np.median(per_image.psnr.to_numpy(float))),
            "max_side": _int_or_none(per_image.side.max())}


def _int_or_none(value) -> int | None:
    return int(value) if value is not None and np.isfinite(value) else None


def case_rows(frame: pd.DataFrame) -> list[list]:
    """Every row as a list of raw cell values in :data:`CASE_COLUMNS` order (flags joined)."""
    return [list(cells) for cells in zip(*_case_columns(frame))]


def case_rows_html(frame: pd.DataFrame) -> str:
    """The "All cases" table's ``<tr>`` rows: the cells of :func:`case_rows`, escaped, numbers
    through :func:`format_number`, the status cell classed ``st-STATUS``.

    Built column by column in Python rather than by a template calling a filter per cell, which
    took a sixth of a 5020-row report's time.
    """
    columns = []
    for column, values in zip(CASE_COLUMNS, _case_columns(frame)):
        if column.key == "status":
            cells = [f'<td class="st-{text}">{text}</td>' for text in map(escape, values)]
        elif column.numeric:  # a number's text needs no escaping; text stored in a number column does
            cells = [f"<td>{escape(value) if isinstance(value, str) else format_number(value)}</td>" for value in values]
        else:
            cells = [f"<td>{'' if value is None else escape(value)}</td>" for value in values]
        columns.append(cells)
    return "".join(f"<tr>{''.join(cells)}</tr>\n" for cells in zip(*columns))


def _case_columns(frame: pd.DataFrame) -> list[list]:
    """The raw values of each of :data:`CASE_COLUMNS` (a missing column is all ``None``), flags
    joined, and ``None`` where pandas filled a text column with NaN (nothing recorded)."""
    columns = []
    for column in CASE_COLUMNS:
        values = frame[column.key].tolist() if column.key in frame else [None] * len(frame)
        if column.key == "flags":
            values = [", ".join(v) if isinstance(v, list) else "" for v in values]
        elif not column.numeric:
            values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        columns.append(values)
    return columns


