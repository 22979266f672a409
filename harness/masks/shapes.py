"""Centred geometric masks (the study's disc, a box) and the helpers every mask shares."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["AREA_TOLERANCE", "disc_mask", "disc_mask_px", "disc_radius_px", "disc_for_area", "box_mask", "edge_distance",
           "mask_to_image"]

#: How far (as a share of the image's pixels) a mask built for a requested area may miss it.
AREA_TOLERANCE = 0.02


def disc_radius_px(height: int, width: int, radius_frac: float, *, floor: bool = False) -> float:
    """Disc radius in pixels: ``radius_frac`` x half the shorter side (the study's convention),
    rounded down to whole pixels when ``floor`` (as the study's code did)."""
    radius = radius_frac * min(height, width) / 2.0
    return float(math.floor(radius)) if floor else radius


def disc_mask(height: int, width: int, radius_frac: float, *, floor: bool = False) -> np.ndarray:
    """A centred disc with a hard edge.

    Parameters
    ----------
    height, width : int
        Size of the image the mask is for.
    radius_frac : float
        Radius as a fraction of half the shorter side, in ``(0, 1]``; 1.0 touches the shorter edges.
    floor : bool
        Round the radius in pixels down first, as the 2023 study did (see :func:`disc_radius_px`).

    Examples
    --------
    >>> disc_mask(5, 5, 0.5).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    _check_size(height, width)
    if not 0.0 < radius_frac <= 1.0:
        raise ValueError(f"radius_frac must be in (0, 1], got {radius_frac}")
    return _disc(height, width, disc_radius_px(height, width, radius_frac, floor=floor))


def disc_mask_px(height: int, width: int, radius: float) -> np.ndarray:
    """A centred disc of ``radius`` pixels (pixel centres within it are inside)."""
    _check_size(height, width)
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    return _disc(height, width, radius)


def _disc(height: int, width: int, radius: float) -> np.ndarray:
    # pixel centres relative to the image centre
    rows = np.arange(height) - (height - 1) / 2.0
    cols = np.arange(width) - (width - 1) / 2.0
    return rows[:, None] ** 2 + cols[None, :] ** 2 <= radius**2


def _check_size(height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise ValueError(f"mask size must be positive, got {height}x{width}")


def _check_area(area: float) -> None:
    if not (isinstance(area, (int, float)) and 0.0 < area < 1.0):
        raise ValueError(f"area must be a fraction of the image in (0, 1), got {area!r}")


def _check_reached(mask: np.ndarray, area: float, what: str) -> np.ndarray:
    if abs(float(mask.mean()) - area) > AREA_TOLERANCE:
        raise ValueError(f"a {what} covering {area:g} of a {mask.shape[0]}x{mask.shape[1]} image cannot be drawn "
                         f"within {AREA_TOLERANCE:g} (got {float(mask.mean()):.3f}); use a larger image")
    return mask


def disc_for_area(height: int, width: int, area: float) -> np.ndarray:
    """A centred disc covering ``area`` of the image (radius ``sqrt(area x H x W / pi)``).

    Raises
    ------
    ValueError
        When such a disc would not fit inside the image (``area > pi/4 x short/long side``).
    """
    _check_size(height, width)
    _check_area(area)
    radius = math.sqrt(area * height * width / math.pi)
    if radius > min(height, width) / 2.0:
        largest = math.pi / 4 * min(height, width) / max(height, width)
        raise ValueError(f"a disc covering {area:g} of a {height}x{width} image does not fit in it "
                         f"(at most {largest:.3f})")
    return _check_reached(_disc(height, width, radius), area, "disc")


def box_mask(height: int, width: int, area: float) -> np.ndarray:
    """A centred rectangle with the image's aspect ratio covering ``area`` of it."""
    _check_size(height, width)
    _check_area(area)
    box_h = max(1, min(height, round(height * math.sqrt(area))))
    box_w = max(1, min(width, round(area * height * width / box_h)))  # the width absorbs the rounding
    mask = np.zeros((height, width), bool)
    top, left = (height - box_h) // 2, (width - box_w) // 2
    mask[top : top + box_h, left : left + box_w] = True
    return _check_reached(mask, area, "box")


def edge_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from every outside pixel to the nearest masked pixel.

    Masked pixels get 0. An outside pixel next to the mask gets 1.

    Raises
    ------
    ValueError
        If ``mask`` is not a 2-D boolean array or has no masked pixel.
    """
    from scipy import ndimage

    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D boolean array, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if not mask.any():
        raise ValueError("mask is empty: distances to it are undefined")
    return ndimage.distance_transform_edt(~mask)


def mask_to_image(mask: np.ndarray) -> np.ndarray:
    """The mask as a ``uint8`` ``H x W`` image, 255 where ``True`` (what diffusers expects)."""
    return np.where(mask, np.uint8(255), np.uint8(0))
