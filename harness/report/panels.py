"""Small multiples: a figure of many small panels sharing both axes, five to a row.

Margins are fixed in inches rather than solved by a layout engine, and only the outer panels
carry tick marks and labels; every panel gets the same grid, drawn as one line collection per
direction. matplotlib would otherwise run its layout over every panel and make and draw five
artists for each tick of each panel, most of a 20-panel figure's time.
"""

from __future__ import annotations

import math

import matplotlib
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

__all__ = ["grid", "grid_lines", "COLUMNS"]

#: Panels per row.
COLUMNS = 5


def grid(n: int, panel: tuple[float, float] = (2.4, 1.8), *, top: float = 0.6) -> tuple[Figure, list]:
    """``n`` small panels, :data:`COLUMNS` to a row, sharing both axes; unused slots hidden.
    Margins are fixed in inches (``top`` leaves room for a legend)."""
    columns = min(COLUMNS, n)
    rows = math.ceil(n / columns)
    width, height = panel[0] * columns + 0.9, panel[1] * rows + top + 0.6
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=0.8 / width, right=1 - 0.1 / width, bottom=0.6 / height, top=1 - top / height,
                           wspace=0.12, hspace=0.35)
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for index in range(n, rows * columns):
        axes[index].set_visible(False)
        axes[index - columns].xaxis.set_tick_params(labelbottom=True)  # the panel above is now the last
    for ax in axes[:n]:
        ax.locator_params(nbins=4)
    return figure, list(axes[:n])


def grid_lines(axes: list) -> None:
    """Grid lines for the panels of :func:`grid` (call it once they are drawn on), with tick marks
    on the outer panels only: the bottom one of each column and the first of each row. The panels
    share both axes, so each panel's grid is at the ticks the outer axes show."""
    if not axes:
        return
    columns = axes[0].get_gridspec().ncols
    last_row = {index % columns: index for index in range(len(axes))}  # column -> its bottom panel
    x_ticks, y_ticks = _ticks_in_view(axes[0].xaxis), _ticks_in_view(axes[0].yaxis)
    style = {"colors": matplotlib.rcParams["grid.color"], "linewidths": matplotlib.rcParams["grid.linewidth"],
             "linestyles": matplotlib.rcParams["grid.linestyle"], "alpha": 0.3, "zorder": 1.5}  # as ax.grid(alpha=0.3)
    for index, ax in enumerate(axes):
        ax.xaxis.set_visible(last_row[index % columns] == index)
        ax.yaxis.set_visible(index % columns == 0)
        ax.add_collection(LineCollection([[(x, 0), (x, 1)] for x in x_ticks], transform=ax.get_xaxis_transform(),
                                         **style), autolim=False)
        ax.add_collection(LineCollection([[(0, y), (1, y)] for y in y_ticks], transform=ax.get_yaxis_transform(),
                                         **style), autolim=False)


def _ticks_in_view(axis) -> list[float]:
    """The major tick positions ``axis`` shows within its (shared) view limits."""
    low, high = sorted(axis.get_view_interval())
    return [float(t) for t in axis.get_major_locator()() if low <= t <= high]
