"""The report's charts, drawn with matplotlib's object API (no pyplot state) and returned as
``data:image/svg+xml`` URIs ready to inline: vector graphics stay sharp at any zoom.

Colours for categories (images, mitigations, mask families, radius-sweep strengths) come from
the Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies;
lines also carry markers, so they never rely on colour alone."""

from __future__ import annotations

import base64
import io
import warnings

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from harness.report.data import EdgeProfile, FloorRow, Series, StrengthCurves
from harness.report.panels import grid, grid_lines

__all__ = ["svg_uri", "label", "category_styles", "strength_panels", "strength_mean", "radius_panels",
           "edge_figure", "draw_edge_profiles", "shown_strengths", "EDGE_LINES", "floor_figure", "timing_figure", "comparison_figure", "colorbar_figure", "PALETTE",
           "MARKERS", "MSE_LABEL"]

DPI = 100  # for the few raster parts (dense scatters) inside an SVG
MSE_LABEL = "MSE outside (0–255²)"
#: Okabe & Ito's colour-blind-safe palette (black last: it is used when the others run out).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_RASTER_ABOVE = 400  # scatters with more points are embedded as an image inside the SVG (size)
# viridis without its last, palest tenth, so the highest strength stays visible on white
_STRENGTH_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.9, 256)))


def svg_uri(figure: Figure) -> str:
    """Render ``figure`` as SVG and return it as a ``data:`` URI (the same bytes for the same figure).

    The figure's layout engine, if any, is run once and then removed (see :func:`_lay_out_once`).
    """
    buffer = io.BytesIO()
    # text stays text (the browser draws it; a third of the bytes of glyph outlines), ids are stable
    with warnings.catch_warnings(), matplotlib.rc_context({"svg.hashsalt": "inpaint-leakage", "svg.fonttype": "none"}):
        # names with emoji: DejaVu lacks the glyph, a box is drawn
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        _lay_out_once(figure)
        figure.savefig(buffer, format="svg", dpi=DPI, metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _lay_out_once(figure: Figure) -> None:
    """Run the figure's layout engine with the SVG renderer's text metrics and then drop the engine.

    ``savefig`` would otherwise draw the whole figure once with rendering switched off only to
    run the layout (matplotlib's ``print_figure``), then draw it again to write it.
    """
    engine = figure.get_layout_engine()
    if engine is None:
        return
    FigureCanvasSVG(figure)  # the layout measures text with the renderer that will write it
    engine.execute(figure)
    figure.set_layout_engine(None)


def _dots(x) -> str | None:
    """A dot per point for short series; long ones read as lines (and would weigh the SVG down)."""
    return "." if len(x) <= 30 else None


def category_styles(names) -> dict[str, dict]:
    """Colour and marker per category name, in the given order (they repeat after eight)."""
    return {name: {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
            for i, name in enumerate(names)}


def label(text: str, limit: int = 28) -> str:
    """User text made safe for a matplotlib label: ``$`` would start mathtext; long text is cut."""
    text = str(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _strength_colours(strengths) -> tuple[dict[float, tuple], ScalarMappable]:
    """One colour per strength (dark = low, light = high) and the mapping for a colour bar."""
    strengths = sorted(strengths)
    norm = Normalize(strengths[0], strengths[-1] if strengths[-1] > strengths[0] else strengths[0] + 1)
    return {s: _STRENGTH_CMAP(norm(s)) for s in strengths}, ScalarMappable(norm, _STRENGTH_CMAP)


def _strength_key(figure: Figure, colours: dict[float, tuple], mappable: ScalarMappable, ax=None,
                  markers: dict[float, str] | None = None) -> None:
    """A legend for a few strengths, a colour bar for many."""
    if len(colours) > 8:
        figure.colorbar(mappable, ax=ax if ax is not None else figure.axes, label="strength", shrink=0.9)
        return
    lines = [Line2D([], [], color=c, marker=(markers or {}).get(s), markersize=4) for s, c in colours.items()]
    names = [f"strength {s:g}" for s in colours]
    if ax is not None:
        ax.legend(lines, names, fontsize=8)
    else:
        figure.legend(lines, names, loc="upper center", ncols=min(len(lines), 6), fontsize=8, frameon=False)


def strength_panels(curves: StrengthCurves, spikes: list[dict] = (), spread: dict[str, Series] | None = None) -> str:
    """Small multiples: MSE outside against strength, one panel per image, shared y axis.

    ``spikes`` (rows with ``image``, ``strength``, ``mse_outside``) are circled in red;
    ``spread`` (per image, the lowest and highest seed's value at each strength, as ``x``, and
    ``y`` = (low, high)) is drawn as a band when cases ran with several seeds.
    """
    figure, axes = grid(len(curves.per_image))
    for ax, (image, series) in zip(axes, curves.per_image.items()):
        if spread and image in spread:
            low, high = spread[image].y
            ax.fill_between(spread[image].x, low, high, color=PALETTE[0], alpha=0.25, linewidth=0)
        ax.plot(series.x, series.y, "-", marker=_dots(series.x), markersize=3, linewidth=1, color=PALETTE[0])
        marked = [s for s in spikes if s["image"] == image]
        if marked:
            ax.plot([s["strength"] for s in marked], [s["mse_outside"] for s in marked], "o", markersize=7,
                    markerfacecolor="none", markeredgecolor="#D55E00", markeredgewidth=1.5)
        ax.set_title(label(image), fontsize=9, y=1.0)  # a fixed y skips title auto-placement
    grid_lines(axes)
    handles = [Line2D([], [], color=PALETTE[0], marker=".", label="mean over seeds")]
    if spread:
        handles.append(Patch(color=PALETTE[0], alpha=0.25, label="seed range (lowest to highest)"))
    if spikes:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", markeredgecolor="#D55E00",
                              label="spike (> 3 scaled MADs above the image's fit)"))
    figure.legend(handles=handles, loc="upper center", ncols=len(handles), fontsize=8, frameon=False)
    figure.supxlabel("strength", fontsize=9)
    figure.supylabel(MSE_LABEL, fontsize=9)
    return svg_uri(figure)


def _mean_band(ax, curves: StrengthCurves, colour: str, name: str) -> None:
    ax.fill_between(curves.strengths, curves.mean - curves.std, curves.mean + curves.std, color=colour,
                    alpha=0.2, linewidth=0, label=f"{name}spread across images (±1 std)")
    ax.plot(curves.strengths, curves.mean, "-", marker=_dots(curves.strengths), color=colour,
            label=f"{name}mean over images")


def strength_mean(curves: StrengthCurves) -> str:
    """The mean over images with the spread across images (±1 std) and the least-squares quadratic fit."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.subplots()
    _mean_band(ax, curves, PALETTE[0], "")
    if curves.fit is not None:
        x = np.linspace(curves.strengths.min(), curves.strengths.max(), 200)
        ax.plot(x, np.polyval(curves.fit.coefficients, x), "--", color="#D55E00",
                label=f"fit {curves.fit.equation()}  (R² = {curves.fit.r_squared:.3f})")
    ax.set_xlabel("strength")
    ax.set_ylabel(MSE_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return svg_uri(figure)


def radius_panels(curves: dict[str, dict[float, Series]]) -> str:
    """Small multiples: MSE outside against the disc's area fraction, one line per strength
    (colour-blind-safe colours and a marker each for up to 8 strengths, a colour scale beyond)."""
    figure, axes = grid(len(curves))
    strengths = sorted({s for by_strength in curves.values() for s in by_strength})
    if len(strengths) <= len(PALETTE):
        styles = category_styles(strengths)
        colours = {s: styles[s]["color"] for s in strengths}
        markers = {s: styles[s]["marker"] for s in strengths}
        mappable = None
    else:
        colours, mappable = _strength_colours(strengths)
        markers = {s: "." for s in strengths}
    for ax, (image, by_strength) in zip(axes, curves.items()):
        for strength, series in sorted(by_strength.items()):
            ax.plot(series.x, series.y, "-", linewidth=1, color=colours[strength], marker=markers[strength],
                    markersize=3, markevery=max(1, len(series.x) // 12))
        ax.set_title(label(image), fontsize=9, y=1.0)  # a fixed y skips title auto-placement
    grid_lines(axes)
    _strength_key(figure, colours, mappable, markers=markers)
    figure.supxlabel("mask area / image area (of the actual disc mask)", fontsize=9)
    figure.supylabel(MSE_LABEL, fontsize=9)
    return svg_uri(figure)


#: Edge-profile charts draw at most this many strengths (evenly spaced): more lines only overlap.
EDGE_LINES = 11


def shown_strengths(strengths) -> list[float]:
    """At most :data:`EDGE_LINES` of ``strengths``, evenly spaced, always the lowest and highest."""
    strengths = sorted(strengths)
    if len(strengths) <= EDGE_LINES:
        return strengths
    return [strengths[i] for i in sorted(set(np.linspace(0, len(strengths) - 1, EDGE_LINES).round().astype(int)))]


def draw_edge_profiles(figure: Figure, ax, profiles: dict[float, EdgeProfile], *, ylabel: str) -> None:
    """Per-bin values against distance from the mask edge (log axis), one line per strength
    (:func:`shown_strengths` of them)."""
    profiles = {s: profiles[s] for s in shown_strengths(profiles)}
    colours, mappable = _strength_colours(profiles)
    for strength, profile in sorted(profiles.items()):
        ax.plot(profile.start, profile.mse, "-", marker=".", markersize=3, linewidth=1, color=colours[strength])
    ax.set_xscale("log")
    top = max(float(p.start.max()) for p in profiles.values())
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if t <= top]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    # a tick and grid line at every factor of 2; the log scale's decimal minor ticks (2-9 x 10^k)
    # only cluttered them, and cost a third of the chart's drawing
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("distance from the mask edge (px, lower edge of each bin)", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(alpha=0.3)
    _strength_key(figure, colours, mappable, ax)


def edge_figure(profiles: dict[float, EdgeProfile]) -> str:
    """MSE outside against distance from the mask edge, one line per strength."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    draw_edge_profiles(figure, figure.subplots(), profiles, ylabel="MSE (0–255²), count-weighted over cases")
    return svg_uri(figure)


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
    figure.legend(fontsize=8, ncols=len(groups), loc="outside upper center", frameon=False)  # never over a bar
    return svg_uri(figure)


def timing_figure(frame: pd.DataFrame) -> str:
    """Seconds per case against strength, one colour per experiment, median per strength."""
    figure = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = figure.subplots()
    for (experiment, group), colour in zip(frame.groupby("experiment", sort=True), PALETTE):
        ax.scatter(group.strength, group.seconds, s=8, alpha=0.5, color=colour, label=str(experiment),
                   rasterized=len(group) > _RASTER_ABOVE)  # thousands of vector dots make a heavy SVG
    median = frame.groupby("strength", sort=True).seconds.median()
    ax.plot(median.index, median.to_numpy(), "-", color="#333333", linewidth=1, label="median")
    ax.set_xlabel("strength")
    ax.set_ylabel("seconds per case")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return svg_uri(figure)


def comparison_figure(current: StrengthCurves, baseline: StrengthCurves, baseline_name: str) -> str:
    """The baseline's and this run's mean strength curves overlaid, each with its ±1 std band."""
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = figure.subplots()
    _mean_band(ax, baseline, "#7f8c8d", f"baseline {label(baseline_name, 20)}: ")
    _mean_band(ax, current, PALETTE[0], "this run: ")
    ax.set_xlabel("strength")
    ax.set_ylabel(MSE_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return svg_uri(figure)


def colorbar_figure(vmax: float, cmap: str) -> str:
    """The heatmaps' shared colour scale, ``0..vmax`` in 0–255² units."""
    figure = Figure(figsize=(6.0, 0.85), layout="constrained")
    ax = figure.subplots()
    figure.colorbar(ScalarMappable(Normalize(0.0, vmax), colormaps[cmap]), cax=ax, orientation="horizontal",
                    label="squared error per pixel, mean over RGB (0–255²); brighter values clipped",
                    extend="max")
    return svg_uri(figure)
