"""The masks section: leakage against the mask's area, one line per mask family.

Rows of the masks experiment are averaged over seeds, then over images, per family, requested
area and strength; the x axis is the area the masks actually cover (``mask_area``). The user's own
masks have no requested area: each strength gets one point at their mean area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.masks import MASK_FAMILIES
from harness.report import figures, panels
from harness.report.data import measured, seed_means

__all__ = ["family_table", "family_figure", "masks_section"]

_VALUES = ["mse_outside", "mask_area", "seam", "ssim_outside", "mse_excess"]


def _order(families) -> list[str]:
    known = [f for f in MASK_FAMILIES if f in families]
    return known + sorted(set(families) - set(known))


def family_table(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per family, requested area (``nan`` for user masks) and strength: the number of images and
    the mean over images of :data:`_VALUES`. ``None`` when the experiment measured nothing."""
    rows = measured(frame, "masks")
    if rows.empty:
        return None
    rows = rows.assign(**{v: pd.to_numeric(rows[v], errors="coerce") for v in _VALUES})
    per_image = seed_means(rows, ["mask", "area", "strength", "image"], _VALUES)
    table = per_image.groupby(["mask", "area", "strength"], sort=True, dropna=False)
    out = table[_VALUES].mean().join(table.image.nunique().rename("images")).reset_index()
    out["order"] = [_order(out["mask"]).index(m) for m in out["mask"]]
    return out.sort_values(["strength", "order", "area"], kind="mergesort").drop(columns="order").reset_index(drop=True)


def family_figure(table: pd.DataFrame) -> str:
    """One panel per strength: MSE outside against mask area, a line with markers per family."""
    strengths = sorted(table.strength.unique())
    figure, axes = panels.grid(len(strengths), panel=(3.4, 2.6))
    families = _order(table["mask"].unique())
    styles = figures.category_styles(families)
    for ax, strength in zip(axes, strengths):
        rows = table[table.strength == strength]
        for family in families:  # the legend in the families' order
            group = rows[rows["mask"] == family].sort_values("mask_area")
            if group.empty:
                continue
            ax.plot(group.mask_area, group.mse_outside, "-", linewidth=1.2, markersize=5, label=family,
                    **styles[family])
        ax.set_title(f"strength {strength:g}", fontsize=9)
        ax.set_xlim(0.0, 1.15 * float(table.mask_area.max()))  # from 0: a lone area is not a range
    panels.grid_lines(axes)
    axes[0].legend(fontsize=7, loc="best")
    figure.supxlabel("mask area / image area (as drawn)", fontsize=9)
    figure.supylabel(figures.MSE_LABEL, fontsize=9)
    return figures.svg_uri(figure)


def masks_section(frame: pd.DataFrame) -> dict | None:
    """The section's figure, its full table, and per strength and requested area the MSE outside
    of each family side by side (families at similar area)."""
    table = family_table(frame)
    if table is None:
        return None
    families = _order(table["mask"].unique())
    requested = table[np.isfinite(table.area.to_numpy(float))]
    side_by_side = [
        {"strength": strength, "area": area, "values": [group.set_index("mask").mse_outside.get(f) for f in families]}
        for (strength, area), group in requested.groupby(["strength", "area"], sort=True)
    ]
    return {"figure": family_figure(table), "rows": table.to_dict("records"), "families": families,
            "side_by_side": side_by_side}
