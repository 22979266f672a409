"""Masks: boolean ``H x W`` arrays, ``True`` = the region to inpaint (diffusers' white).

The families users meet: the study's centred ``disc``, a centred ``box``, LaMa-style random
brush ``strokes`` (thin, medium, thick), and the user's own masks (:mod:`harness.masks.user`).
:func:`family_mask` builds any built-in family at a requested share of the image's area.
"""

from __future__ import annotations

import numpy as np

from harness.masks.shapes import (
    AREA_TOLERANCE,
    box_mask,
    disc_for_area,
    disc_mask,
    disc_mask_px,
    disc_radius_px,
    edge_distance,
    mask_to_image,
)
from harness.masks.strokes import STROKE_WIDTHS, strokes_mask
from harness.masks.user import MaskError, fit_user_mask, load_user_mask, pair_user_masks

__all__ = [
    "AREA_TOLERANCE",
    "MASK_FAMILIES",
    "MaskError",
    "STROKE_WIDTHS",
    "box_mask",
    "disc_for_area",
    "disc_mask",
    "disc_mask_px",
    "disc_radius_px",
    "edge_distance",
    "family_mask",
    "fit_user_mask",
    "load_user_mask",
    "mask_to_image",
    "pair_user_masks",
    "strokes_mask",
]

#: The built-in mask families :func:`family_mask` knows, in report order.
MASK_FAMILIES = ("disc", "box", *(f"strokes-{w}" for w in STROKE_WIDTHS))


def family_mask(family: str, height: int, width: int, area: float, *, seed: int = 0) -> np.ndarray:
    """A mask of a built-in ``family`` covering ``area`` (a fraction of the pixels, within
    :data:`AREA_TOLERANCE`). Only strokes depend on ``seed``; the disc and the box are centred.

    Raises
    ------
    ValueError
        For an unknown family, or an area the family cannot reach at this size.
    """
    if family == "disc":
        return disc_for_area(height, width, area)
    if family == "box":
        return box_mask(height, width, area)
    if family.startswith("strokes-") and family.removeprefix("strokes-") in STROKE_WIDTHS:
        return strokes_mask(height, width, area, thickness=family.removeprefix("strokes-"), seed=seed)
    raise ValueError(f"unknown mask family {family!r}; expected one of {', '.join(MASK_FAMILIES)}")
