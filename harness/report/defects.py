"""The section on what users see: colour shift, SSIM, lost detail and seams outside the mask,
against strength (the strength experiment, averaged over seeds, then over images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.report import figures
from harness.report.data import measured, seed_means

__all__ = ["defect_curves", "defects_figure", "defects_section", "DEFECTS"]

#: Column, panel title and y label of each panel.
DEFECTS = (
    ("color_shift", "colour shift outside (signed mean per channel)", "levels (0–255)"),
    ("ssim_outside", "SSIM outside (1 = structure kept)", "mean SSIM"),
    ("detail_loss_outside", "detail lost outside (Laplacian energy)", "share lost"),
    ("seam", "seam at the mask edge", "gradient added (levels/px)"),
)
_CHANNELS = (("color_shift_r", "R", "#D55E00", "o"), ("color_shift_g", "G", "#009E73", "s"),
             ("color_shift_b", "B", "#0072B2", "^"))
_COLUMNS = [c for c, *_ in _CHANNELS] + ["ssim_outside", "detail_loss_outside", "seam"]


def defect_curves(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per strength, the mean over images of each defect column; ``None`` without any recorded."""
    rows = measured(frame, "strength")
    if rows.empty or not all(c in rows for c in _COLUMNS):
        return None
    rows = rows.assign(**{c: pd.to_numeric(rows[c], errors="coerce") for c in _COLUMNS})
    if not np.isfinite(rows[_COLUMNS].to_numpy(float)).any():
        return None  # a store written before these metrics were recorded
    per_image = seed_means(rows, ["image", "strength"], _COLUMNS)
    return per_image.groupby("strength", sort=True)[_COLUMNS].mean()


def defects_figure(curves: pd.DataFrame) -> str:
    """Four panels against strength: the colour shift per channel, SSIM, detail loss and seam."""
    figure = Figure(figsize=(11.0, 2.9))
    # fixed margins: a layout engine doubled the time of this figure
    figure.subplots_adjust(left=0.055, right=0.99, bottom=0.17, top=0.9, wspace=0.38)
    axes = figure.subplots(1, len(DEFECTS), sharex=True)
    strengths = curves.index.to_numpy(float)
    for ax, (column, title, unit) in zip(axes, DEFECTS):
        if column == "color_shift":
            for name, channel, colour, marker in _CHANNELS:
                ax.plot(strengths, curves[name], "-", color=colour, marker=marker, markersize=3, label=channel,
                        markevery=max(1, len(strengths) // 12))
            ax.axhline(0.0, color="#888888", linewidth=0.8)
            ax.legend(fontsize=7, ncols=3)
        else:
            ax.plot(strengths, curves[column], "-", color=figures.PALETTE[0], marker="o", markersize=3,
                    markevery=max(1, len(strengths) // 12))
        ax.set_title(title, fontsize=8.5)
        ax.set_ylabel(unit, fontsize=8)
        ax.set_xlabel("strength", fontsize=8)
        ax.grid(alpha=0.3)
    return figures.svg_uri(figure)


def defects_section(frame: pd.DataFrame) -> dict | None:
    """The figure and the table of the curves (one row per strength)."""
    curves = defect_curves(frame)
    if curves is None:
        return None
    return {"figure": defects_figure(curves), "rows": curves.reset_index().to_dict("records"),
            "images": int(measured(frame, "strength").image.nunique())}
