"""LaMa-style random brush strokes: the free-form masks people paint, seeded and aimed at an area.

As in LaMa's irregular masks (Suvorov et al. 2022, ``make_random_irregular_mask``), a stroke
starts at a random point and walks a few straight segments of random direction, length and
brush width. Strokes are added until the mask covers the requested share of the image; the
segment that crosses it is shortened (by bisection) so the area lands just above the target.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from harness.masks.shapes import _check_area, _check_reached, _check_size

__all__ = ["STROKE_WIDTHS", "strokes_mask"]

#: Brush widths per thickness, as (lowest, highest) fractions of the image's shorter side.
STROKE_WIDTHS = {"thin": (0.02, 0.05), "medium": (0.06, 0.12), "thick": (0.14, 0.24)}
_SEGMENT_LENGTH = (0.1, 0.3)  # fractions of the shorter side
_SEGMENTS_PER_STROKE = (1, 5)  # as LaMa: 1 + randint(5)
_MAX_SEGMENTS = 5000  # a walk that cannot reach its area in this many is a bug, not a slow case
_BISECTIONS = 12


def _draw_segment(canvas: Image.Image, start: tuple[float, float], end: tuple[float, float], width: int) -> None:
    """A straight brush segment with round caps (so joined segments leave no notch)."""
    draw = ImageDraw.Draw(canvas)
    draw.line([start, end], fill=255, width=width)
    radius = width / 2.0
    for x, y in (start, end):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)


def _covered(canvas: Image.Image) -> float:
    return np.count_nonzero(np.asarray(canvas)) / (canvas.width * canvas.height)


def _place_last(before: Image.Image, start, end, width: int, area: float) -> Image.Image:
    """The shortest part of the segment ``start -> end`` that brings ``before`` to ``area``."""
    low, high = 0.0, 1.0
    best = None
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        trial = before.copy()
        _draw_segment(trial, start, (start[0] + middle * (end[0] - start[0]), start[1] + middle * (end[1] - start[1])),
                      width)
        if _covered(trial) >= area:
            high, best = middle, trial
        else:
            low = middle
    if best is None:  # even the whole segment was needed
        best = before.copy()
        _draw_segment(best, start, end, width)
    return best


def strokes_mask(height: int, width: int, area: float, *, thickness: str = "medium", seed: int = 0) -> np.ndarray:
    """Random brush strokes covering ``area`` of an ``height`` x ``width`` image.

    Parameters
    ----------
    area : float
        Share of the pixels to cover, in ``(0, 1)``; the result is within
        :data:`~harness.masks.shapes.AREA_TOLERANCE` of it.
    thickness : str
        ``thin``, ``medium`` or ``thick`` (brush widths in :data:`STROKE_WIDTHS`).
    seed : int
        The same seed and size always give the same mask.

    Raises
    ------
    ValueError
        For an unknown thickness, a bad size or area, or an area the strokes cannot reach.
    """
    _check_size(height, width)
    _check_area(area)
    if thickness not in STROKE_WIDTHS:
        raise ValueError(f"unknown stroke thickness {thickness!r}; expected one of {', '.join(STROKE_WIDTHS)}")
    rng = np.random.default_rng(seed)
    short = min(height, width)
    canvas = Image.new("L", (width, height), 0)
    point, brush, left, angle = (0.0, 0.0), 1, 0, 0.0
    for _ in range(_MAX_SEGMENTS):
        cap = math.pi * (brush / 2) ** 2 / (height * width)
        if left == 0 and area - _covered(canvas) > 2 * cap:  # a new stroke, unless its first cap would overshoot
            point = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
            brush = max(1, round(rng.uniform(*STROKE_WIDTHS[thickness]) * short))
            left, angle = int(rng.integers(_SEGMENTS_PER_STROKE[0], _SEGMENTS_PER_STROKE[1] + 1)), rng.uniform(0, 2 * math.pi)
        angle += rng.uniform(-math.pi / 2, math.pi / 2)
        length = rng.uniform(*_SEGMENT_LENGTH) * short
        end = (float(np.clip(point[0] + length * math.cos(angle), 0, width - 1)),
               float(np.clip(point[1] + length * math.sin(angle), 0, height - 1)))
        before = canvas.copy()
        _draw_segment(canvas, point, end, brush)
        if _covered(canvas) >= area:
            canvas = _place_last(before, point, end, brush, area)
            return _check_reached(np.asarray(canvas) > 0, area, f"{thickness} stroke mask")
        point, left = end, max(0, left - 1)
    raise ValueError(f"{thickness} strokes did not cover {area:g} of a {height}x{width} image in {_MAX_SEGMENTS} segments")
