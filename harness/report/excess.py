"""The section on where leakage comes from: the VAE round trip (the floor) against the excess over
it, by strength, by distance from the mask edge and by local texture.

Everything comes from recorded columns of the strength experiment: ``mse_floor`` and
``mse_excess`` per case, the ``excess_profile`` per edge-distance bin and the ``texture_profile``
(error against equal-count bins of 9x9 local standard deviation, with Spearman correlations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.report import figures
from harness.report.data import aggregate_profiles, measured, seed_means, with_profiles

__all__ = ["totals", "excess_profiles", "texture_rows", "texture_bins", "sources_figure", "sources_section"]


def _with(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    values = pd.to_numeric(rows[column], errors="coerce") if column in rows else pd.Series(np.nan, index=rows.index)
    return rows[np.isfinite(values.to_numpy(float))]


def totals(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Per strength, the mean over images of ``mse_outside``, ``mse_floor`` and ``mse_excess``."""
    rows = _with(measured(frame, "strength"), "mse_floor")
    if rows.empty:
        return None
    values = ["mse_outside", "mse_floor", "mse_excess"]
    rows = rows.assign(**{v: pd.to_numeric(rows[v]) for v in values})
    return seed_means(rows, ["image", "strength"], values).groupby("strength", sort=True)[values].mean()


def excess_profiles(frame: pd.DataFrame) -> dict:
    """Per strength, the excess per edge-distance bin pooled over cases (count-weighted)."""
    rows = with_profiles(measured(frame, "strength"), "excess_profile")
    return {float(s): aggregate_profiles(list(g.excess_profile)) for s, g in rows.groupby("strength", sort=True)}


def texture_rows(frame: pd.DataFrame) -> list[dict]:
    """Per image: Spearman's rho of texture with the floor's and with the excess's error, as the
    mean over the image's strength cases, and the excess's at the highest strength."""
    rows = _with(measured(frame, "strength"), "texture_rho_floor")
    out = []
    for image, group in rows.groupby("image", sort=True):
        top = group[group.strength == group.strength.max()]
        out.append({"image": str(image), "cases": len(group),
                    "rho_floor": float(pd.to_numeric(group.texture_rho_floor).mean()),
                    "rho_excess": float(pd.to_numeric(group.texture_rho_excess).mean()),
                    "rho_excess_top": float(pd.to_numeric(top.texture_rho_excess).mean()),
                    "top_strength": float(group.strength.max())})
    return out


def texture_bins(frame: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """The floor's and the excess's mean error per texture bin (smoothest first), pooled over
    every strength case of every image, each case's bins weighted by their pixel counts."""
    profiles = list(with_profiles(measured(frame, "strength"), "texture_profile").get("texture_profile", []))
    if not profiles:
        return None
    size = min(len(p["count"]) for p in profiles)
    count = np.zeros(size)
    floor, excess = np.zeros(size), np.zeros(size)
    for p in profiles:
        weights = np.asarray(p["count"][:size], dtype=float)
        count += weights
        floor += weights * np.asarray(p["floor"][:size], dtype=float)
        excess += weights * np.asarray(p["excess"][:size], dtype=float)
    return {"floor": floor / count, "excess": excess / count, "bins": np.arange(1, size + 1)}


def sources_figure(total: pd.DataFrame | None, profiles: dict, bins: dict | None) -> str:
    """Up to three panels: total, floor and excess against strength; the excess against distance
    from the mask edge per strength; the floor's and the excess's error per texture bin."""
    panels = [p for p, present in (("total", total is not None), ("edge", bool(profiles)), ("texture", bins is not None))
              if present]
    width = 3.9 * len(panels) + 0.4
    figure = Figure(figsize=(width, 3.1))
    # fixed margins (inches): a layout engine took most of this figure's time
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.55 / 3.1, top=1 - 0.15 / 3.1,
                           wspace=0.45)
    axes = dict(zip(panels, np.atleast_1d(figure.subplots(1, len(panels)))))
    if "total" in axes:
        ax, strengths = axes["total"], total.index.to_numpy(float)
        for column, name, style in (("mse_outside", "total (MSE outside)", "-"), ("mse_floor", "VAE floor", "--"),
                                    ("mse_excess", "excess over the floor", "-")):
            colour = {"mse_outside": figures.PALETTE[0], "mse_floor": "#7f7f7f", "mse_excess": figures.PALETTE[5]}[column]
            ax.plot(strengths, total[column], style, color=colour, marker="o" if len(strengths) <= 30 else None,
                    markersize=3, label=name)
        ax.set_xlabel("strength", fontsize=8)
        ax.set_ylabel(figures.MSE_LABEL, fontsize=8)
        ax.legend(fontsize=7)
    if "edge" in axes:
        figures.draw_edge_profiles(figure, axes["edge"], profiles, ylabel="excess MSE over the floor (0–255²)")
    if "texture" in axes:
        ax = axes["texture"]
        ax.plot(bins["bins"], bins["floor"], "--", color="#7f7f7f", marker="s", markersize=4, label="VAE floor")
        ax.plot(bins["bins"], bins["excess"], "-", color=figures.PALETTE[5], marker="o", markersize=4,
                label="excess over the floor")
        ax.set_xticks(bins["bins"])
        ax.set_xlabel("local texture bin (9×9 std; 1 = smoothest)", fontsize=8)
        ax.set_ylabel("mean error per pixel (0–255²)", fontsize=8)
        ax.legend(fontsize=7)
    for ax in axes.values():
        ax.grid(alpha=0.3)
    return figures.svg_uri(figure)


def sources_section(frame: pd.DataFrame) -> dict | None:
    """Figure, the totals per strength and the texture correlations per image; ``None`` when the
    run recorded no excess (a store from before it was recorded, or no strength experiment)."""
    total, profiles, bins = totals(frame), excess_profiles(frame), texture_bins(frame)
    if total is None and not profiles and bins is None:
        return None
    return {"figure": sources_figure(total, profiles, bins),
            "totals": total.reset_index().to_dict("records") if total is not None else [],
            "texture": texture_rows(frame)}
