"""The mitigation section: leakage against seam, one point per mitigation, so the trade-off shows
(a paste-back has no leakage but may leave a seam; a feathered blend trades some of each).

Rows of the mitigation experiment are averaged over seeds, then over images, per mitigation and
strength. Skipped mitigations (a pipeline without ``padding_mask_crop``) are listed with why.
"""

from __future__ import annotations

import pandas as pd

from harness.mitigations import MITIGATIONS
from harness.report import figures, panels
from harness.report.data import measured, seed_means

__all__ = ["mitigation_table", "mitigation_figure", "mitigation_section"]

_VALUES = ["mse_outside", "seam", "ssim_outside", "mse_excess"]


def mitigation_table(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per mitigation and strength: images, width in pixels, and the mean over images of
    :data:`_VALUES`, in :data:`~harness.mitigations.MITIGATIONS` order."""
    rows = measured(frame, "mitigation")
    if rows.empty:
        return None
    rows = rows.assign(**{v: pd.to_numeric(rows[v], errors="coerce") for v in _VALUES})
    per_image = seed_means(rows, ["mitigation", "strength", "image"], _VALUES)
    grouped = per_image.groupby(["mitigation", "strength"], sort=True)
    widths = rows.groupby(["mitigation", "strength"], sort=True).mitigation_px.max()
    table = grouped[_VALUES].mean().join(grouped.image.nunique().rename("images")).join(widths).reset_index()
    table["order"] = [MITIGATIONS.index(m) if m in MITIGATIONS else len(MITIGATIONS) for m in table.mitigation]
    return table.sort_values(["strength", "order"], kind="mergesort").drop(columns="order").reset_index(drop=True)


def mitigation_figure(table: pd.DataFrame) -> str:
    """One panel per strength: seam against leakage, a labelled point per mitigation."""
    strengths = sorted(table.strength.unique())
    figure, axes = panels.grid(len(strengths), panel=(3.6, 2.8), top=0.35)
    styles = figures.category_styles([m for m in MITIGATIONS if m in set(table.mitigation)])
    for ax, strength in zip(axes, strengths):
        for row in table[table.strength == strength].itertuples():
            style = styles.get(row.mitigation, {"color": "#000000", "marker": "o"})
            ax.plot([row.mse_outside], [row.seam], linestyle="none", markersize=8, label=row.mitigation, **style)
            ax.annotate(row.mitigation, (row.mse_outside, row.seam), textcoords="offset points", xytext=(6, 4),
                        fontsize=8)
        ax.set_title(f"strength {strength:g}", fontsize=9)
        ax.margins(0.15)
    panels.grid_lines(axes)
    figure.supxlabel(f"leakage: {figures.MSE_LABEL}", fontsize=9)
    figure.supylabel("seam (gradient added at the edge)", fontsize=9)
    return figures.svg_uri(figure)


def mitigation_section(frame: pd.DataFrame) -> dict | None:
    """The section's figure and table, and the skipped mitigations with their reasons."""
    table = mitigation_table(frame)
    skipped = frame[(frame.experiment == "mitigation") & (frame.status == "skipped")]
    if table is None and skipped.empty:
        return None
    reasons = sorted({(str(m), str(r)) for m, r in zip(skipped.mitigation, skipped.message)})
    return {"figure": mitigation_figure(table) if table is not None else None,
            "rows": table.to_dict("records") if table is not None else [], "skipped": reasons}
