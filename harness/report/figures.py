"""The report's charts, drawn with matplotlib's object API (Agg, no pyplot state) and returned
as ``data:image/png`` URIs ready to inline."""

from __future__ import annotations

import base64
import io
import math
import warnings

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from harness.report.data import EdgeProfile, FloorRow, Series, StrengthCurves

__all__ = ["png_uri", "label", "strength_panels", "strength_mean", "radius_panels", "edge_figure",
           "floor_figure", "timing_figure", "comparison_figure", "colorbar_figure"]

DPI = 100
MSE_LABEL = "MSE outside (0–255²)"
_COLUMNS = 5
# viridis without its last, palest tenth, so the highest strength stays visible on white
_STRENGTH_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.9, 256)))


def png_uri(figure: Figure) -> str:
    """Render ``figure`` as PNG and return it as a ``data:`` URI."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # names with emoji: DejaVu lacks the glyph, a box is drawn
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def label(text: str, limit: int = 28) -> str:
    """User text made safe for a matplotlib label: ``$`` would start mathtext; long text is cut."""
    text = str(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _grid(n: int, panel: tuple[float, float] = (2.4, 1.8)) -> tuple[Figure, list]:
    """``n`` small panels, 5 to a row, sharing both axes; unused slots hidden."""
    columns = min(_COLUMNS, n)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(panel[0] * columns + 0.6, panel[1] * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for index in range(n, rows * columns):
        axes[index].set_visible(False)
        axes[index - columns].xaxis.set_tick_params(labelbottom=True)  # the panel above is now the last
    return figure, list(axes[:n])


def _strength_colours(strengths) -> tuple[dict[float, tuple], ScalarMappable]:
    """One colour per strength (dark = low, light = high) and the mapping for a colour bar."""
    strengths = sorted(strengths)
    norm = Normalize(strengths[0], strengths[-1] if strengths[-1] > strengths[0] else strengths[0] + 1)
    return {s: _STRENGTH_CMAP(norm(s)) for s in strengths}, ScalarMappable(norm, _STRENGTH_CMAP)


def _strength_key(figure: Figure, colours: dict[float, tuple], mappable: ScalarMappable, ax=None) -> None:
    """A legend for a few strengths, a colour bar for many."""
    if len(colours) > 8:
        figure.colorbar(mappable, ax=ax if ax is not None else figure.axes, label="strength", shrink=0.9)
        return
    lines = [Line2D([], [], color=c) for c in colours.values()]
    names = [f"strength {s:g}" for s in colours]
    if ax is not None:
        ax.legend(lines, names, fontsize=8)
    else:
        figure.legend(lines, names, loc="outside upper center", ncols=min(len(lines), 6), fontsize=8, frameon=False)


def strength_panels(curves: StrengthCurves) -> str:
    """Small multiples: MSE outside against strength, one panel per image, shared y axis."""
    figure, axes = _grid(len(curves.per_image))
    for ax, (image, series) in zip(axes, curves.per_image.items()):
        ax.plot(series.x, series.y, "-", marker=".", markersize=3, linewidth=1, color="#1f5fa8")
        ax.set_title(label(image), fontsize=9)
        ax.grid(alpha=0.3)
    figure.supxlabel("strength", fontsize=9)
    figure.supylabel(MSE_LABEL, fontsize=9)
    return png_uri(figure)


def _mean_band(ax, curves: StrengthCurves, colour: str, name: str) -> None:
    ax.fill_between(curves.strengths, curves.mean - curves.std, curves.mean + curves.std, color=colour,
                    alpha=0.2, linewidth=0, label=f"{name}±1 std over images")
    ax.plot(curves.strengths, curves.mean, "-", marker=".", color=colour, label=f"{name}mean over images")


def strength_mean(curves: StrengthCurves) -> str:
    """The mean over images with a ±1 std band and the least-squares quadratic fit."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.subplots()
    _mean_band(ax, curves, "#1f5fa8", "")
    if curves.fit is not None:
        x = np.linspace(curves.strengths.min(), curves.strengths.max(), 200)
        ax.plot(x, np.polyval(curves.fit.coefficients, x), "--", color="#c0392b",
                label=f"fit {curves.fit.equation()}  (R² = {curves.fit.r_squared:.3f})")
    ax.set_xlabel("strength")
    ax.set_ylabel(MSE_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return png_uri(figure)


def radius_panels(curves: dict[str, dict[float, Series]]) -> str:
    """Small multiples: MSE outside against the disc's area fraction, one line per strength."""
    figure, axes = _grid(len(curves))
    colours, mappable = _strength_colours({s for by_strength in curves.values() for s in by_strength})
    for ax, (image, by_strength) in zip(axes, curves.items()):
        for strength, series in sorted(by_strength.items()):
            ax.plot(series.x, series.y, "-", linewidth=1, color=colours[strength])
        ax.set_title(label(image), fontsize=9)
        ax.grid(alpha=0.3)
    _strength_key(figure, colours, mappable)
    figure.supxlabel("mask area / image area (of the actual disc mask)", fontsize=9)
    figure.supylabel(MSE_LABEL, fontsize=9)
    return png_uri(figure)


def edge_figure(profiles: dict[float, EdgeProfile]) -> str:
    """MSE outside against distance from the mask edge, one line per strength."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.subplots()
    colours, mappable = _strength_colours(profiles)
    for strength, profile in sorted(profiles.items()):
        ax.plot(profile.start, profile.mse, "-", marker=".", markersize=3, linewidth=1, color=colours[strength])
    ax.set_xscale("log")
    top = max(float(p.start.max()) for p in profiles.values())
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if t <= top]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("distance from the mask edge (px, lower edge of each bin)")
    ax.set_ylabel("MSE (0–255²), count-weighted over cases")
    ax.grid(alpha=0.3, which="both")
    _strength_key(figure, colours, mappable, ax)
    return png_uri(figure)


def floor_figure(rows: list[FloorRow], low: float | None, high: float | None) -> str:
    """Grouped bars per image: VAE floor, leakage at the lowest and the highest strength."""
    figure = Figure(figsize=(max(6.0, 0.45 * len(rows) + 2.5), 3.4), layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(rows))
    groups = [("VAE floor", [r.floor for r in rows], "#7f8c8d")]
    if low is not None:
        groups += [(f"strength {low:g}", [r.low for r in rows], "#85c1e9"),
                   (f"strength {high:g}", [r.high for r in rows], "#1f5fa8")]
    width = 0.8 / len(groups)
    for i, (name, values, colour) in enumerate(groups):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, values, width, label=name, color=colour)
    ax.set_xticks(x, [label(r.image, 18) for r in rows], rotation=45 if len(rows) > 6 else 0,
                  ha="right" if len(rows) > 6 else "center", fontsize=8)
    ax.set_ylabel(MSE_LABEL)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, ncols=len(groups))
    return png_uri(figure)


def timing_figure(frame: pd.DataFrame) -> str:
    """Seconds per case against strength, one colour per experiment, median per strength."""
    figure = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = figure.subplots()
    for (experiment, group), colour in zip(frame.groupby("experiment", sort=True), ("#1f5fa8", "#e67e22", "#27ae60")):
        ax.scatter(group.strength, group.seconds, s=8, alpha=0.5, color=colour, label=str(experiment))
    median = frame.groupby("strength", sort=True).seconds.median()
    ax.plot(median.index, median.to_numpy(), "-", color="#333333", linewidth=1, label="median")
    ax.set_xlabel("strength")
    ax.set_ylabel("seconds per case")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png_uri(figure)


def comparison_figure(current: StrengthCurves, baseline: StrengthCurves, baseline_name: str) -> str:
    """The baseline's and this run's mean strength curves overlaid, each with its ±1 std band."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.subplots()
    _mean_band(ax, baseline, "#7f8c8d", f"baseline {label(baseline_name, 20)}: ")
    _mean_band(ax, current, "#1f5fa8", "this run: ")
    ax.set_xlabel("strength")
    ax.set_ylabel(MSE_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return png_uri(figure)


def colorbar_figure(vmax: float, cmap: str) -> str:
    """The heatmaps' shared colour scale, ``0..vmax`` in 0–255² units."""
    figure = Figure(figsize=(6.0, 0.85), layout="constrained")
    ax = figure.subplots()
    figure.colorbar(ScalarMappable(Normalize(0.0, vmax), colormaps[cmap]), cax=ax, orientation="horizontal",
                    label="squared error per pixel, mean over RGB (0–255²); brighter values clipped",
                    extend="max")
    return png_uri(figure)
