"""The small multiples' layout: outer panels tick, every panel has the same grid, one artist per direction."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ElementTree

from harness.report import figures, panels


def _is_svg(uri: str) -> bool:
    header, _, payload = uri.partition(",")
    return (header == "data:image/svg+xml;base64"
            and ElementTree.fromstring(base64.b64decode(payload)).tag == "{http://www.w3.org/2000/svg}svg")


def test_grid_panels_tick_on_the_outside_and_share_one_grid():
    figure, axes = panels.grid(7)  # 5 + 2: the 3rd to 5th columns end in the first row
    for ax in axes:
        ax.plot([0.0, 1.0], [0.0, 250.0])
    panels.grid_lines(axes)
    bottoms, lefts = {2, 3, 4, 5, 6}, {0, 5}
    x_ticks = [t for t in axes[5].get_xticks() if 0.0 <= t <= 1.0]  # what the bottom panels show
    y_ticks = [t for t in axes[0].get_yticks() if axes[0].get_ylim()[0] <= t <= axes[0].get_ylim()[1]]
    assert len(x_ticks) >= 3 and len(y_ticks) >= 3
    for index, ax in enumerate(axes):
        assert ax.xaxis.get_visible() == (index in bottoms) and ax.yaxis.get_visible() == (index in lefts)
        vertical, horizontal = ax.collections
        assert [segment[0][0] for segment in vertical.get_segments()] == x_ticks
        assert [segment[0][1] for segment in horizontal.get_segments()] == y_ticks
        assert vertical.get_transform() == ax.get_xaxis_transform() and vertical.get_alpha() == 0.3
    assert _is_svg(figures.svg_uri(figure))


def test_one_row_ticks_every_panel_below_and_the_first_on_the_left():
    figure, axes = panels.grid(3)
    for ax in axes:
        ax.plot([0.0, 1.0], [1.0, 2.0])
    panels.grid_lines(axes)
    assert [ax.xaxis.get_visible() for ax in axes] == [True, True, True]
    assert [ax.yaxis.get_visible() for ax in axes] == [True, False, False]
    panels.grid_lines([])  # nothing to draw on
