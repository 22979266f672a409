"""Masks: boolean ``H x W`` arrays, ``True`` = the region to inpaint (diffusers' white)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["disc_mask", "disc_radius_px", "edge_distance", "mask_to_image"]


def disc_radius_px(height: int, width: int, radius_frac: float) -> float:
    """Disc radius in pixels: ``radius_frac`` x half the shorter side (the study's convention)."""
    return radius_frac * min(height, width) / 2.0


def disc_mask(height: int, width: int, radius_frac: float) -> np.ndarray:
    """A centred disc with a hard edge.

    Parameters
    ----------
    height, width : int
        Size of the image the mask is for.
    radius_frac : float
        Radius as a fraction of half the shorter side, in ``(0, 1]``; 1.0 touches the shorter edges.

    Examples
    --------
    >>> disc_mask(5, 5, 0.5).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    if height < 1 or width < 1:
        raise ValueError(f"mask size must be positive, got {height}x{width}")
    if not 0.0 < radius_frac <= 1.0:
        raise ValueError(f"radius_frac must be in (0, 1], got {radius_frac}")
    radius = disc_radius_px(height, width, radius_frac)
    # pixel centres relative to the image centre
    rows = np.arange(height) - (height - 1) / 2.0
    cols = np.arange(width) - (width - 1) / 2.0
    return rows[:, None] ** 2 + cols[None, :] ** 2 <= radius**2


def edge_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from every outside pixel to the nearest masked pixel.

    Masked pixels get 0. An outside pixel next to the mask gets 1.

    Raises
    ------
    ValueError
        If ``mask`` is not a 2-D boolean array or has no masked pixel.
    """
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D boolean array, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if not mask.any():
        raise ValueError("mask is empty: distances to it are undefined")
    return ndimage.distance_transform_edt(~mask)


def mask_to_image(mask: np.ndarray) -> np.ndarray:
    """The mask as a ``uint8`` ``H x W`` image, 255 where ``True`` (what diffusers expects)."""
    return np.where(mask, np.uint8(255), np.uint8(0))
