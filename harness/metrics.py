"""Leakage metrics: how much a pipeline changed the pixels it was told to leave alone.

Pure functions over numpy arrays: no I/O, no torch. Conventions (see DESIGN.md):

* ``original`` and ``output`` are ``H x W x 3`` arrays (uint8 or float) whose full range is
  ``data_range`` (255 for uint8; 1.0 for floats in [0, 1]); every result is reported on the
  0-255 scale whatever the input range, so numbers from different sources compare;
* ``mask`` is a boolean ``H x W`` array, ``True`` = the region to inpaint;
* "outside" means the pixels where ``mask`` is ``False``;
* every difference is taken in float64, never in the input dtype (uint8 differences wrap);
* means are per element (pixel x channel), not per pixel.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "mse_outside",
    "psnr_outside",
    "mae_outside",
    "max_abs_outside",
    "changed_fraction",
    "mse_inside",
    "error_map",
    "leakage_metrics",
    "edge_profile",
    "METRIC_NAMES",
    "EDGE_BINS",
]

#: Keys of the dict returned by :func:`leakage_metrics`, in a stable order.
METRIC_NAMES = (
    "mse_outside",
    "psnr_outside",
    "mae_outside",
    "max_abs_outside",
    "changed_frac",
    "mse_inside",
    "n_outside",
)


def _check_images(original: np.ndarray, output: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Validate two RGB images of equal shape and return them as float64 on the 0-255 scale."""
    # numbers.Real admits numpy scalars (np.float32(1.0), np.int64(255)); bool is not a range
    if not (
        isinstance(data_range, numbers.Real)
        and not isinstance(data_range, (bool, np.bool_))
        and math.isfinite(data_range)
        and data_range > 0
    ):
        raise ValueError(f"data_range must be a positive number (255 for uint8, 1.0 for [0, 1] floats), got {data_range!r}")
    for name, image in (("original", original), ("output", output)):
        if not isinstance(image, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name} must be an HxWx3 RGB array, got shape {image.shape}")
        if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
            raise ValueError(f"{name} must hold integers or floats, got dtype {image.dtype}")
    if original.shape != output.shape:
        raise ValueError(f"original and output shapes differ: {original.shape} vs {output.shape}")
    scale = 255.0 / float(data_range)  # in float64 even for a float32 data_range
    if scale == 1.0:
        return original.astype(np.float64), output.astype(np.float64)
    return original.astype(np.float64) * scale, output.astype(np.float64) * scale


def _check_mask(mask: np.ndarray, shape: tuple[int, ...], *, need_outside: bool, need_inside: bool) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        dtype = getattr(mask, "dtype", type(mask).__name__)
        raise ValueError(f"mask must be a boolean numpy array (True = inpaint), got {dtype}")
    if mask.shape != shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match the image's height x width {shape[:2]}")
    if need_outside and mask.all():
        raise ValueError("mask covers every pixel: there is no pixel outside the mask to measure")
    if need_inside and not mask.any():
        raise ValueError("mask is empty: there is no pixel inside the mask to measure")
    return mask


def _outside_diff(original, output, mask, data_range: float) -> np.ndarray:
    """Float64 differences ``output - original`` at the outside pixels, shape (n_outside, 3)."""
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=False)
    return output[~mask] - original[~mask]


def _psnr(mse: float) -> float:
    """PSNR in dB from an MSE on the 0-255 scale; ``inf`` for an exact match."""
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def mse_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean squared error over the pixels outside ``mask`` and the 3 channels.

    Examples
    --------
    >>> a = np.zeros((2, 2, 3), np.uint8)
    >>> b = a.copy(); b[0, 0] = 200
    >>> m = np.zeros((2, 2), bool); m[1, 1] = True
    >>> mse_outside(a, b, m)  # 3 elements of 200**2 among 9
    13333.333333333334
    """
    diff = _outside_diff(original, output, mask, data_range)
    return float(np.mean(diff**2, dtype=np.float64))


def psnr_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio (dB, peak 255) of the outside pixels; ``inf`` when they are unchanged."""
    return _psnr(mse_outside(original, output, mask, data_range=data_range))


def mae_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean absolute error over the outside pixels and the 3 channels."""
    diff = _outside_diff(original, output, mask, data_range)
    return float(np.mean(np.abs(diff), dtype=np.float64))


def max_abs_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Largest absolute change of any channel of any outside pixel."""
    diff = _outside_diff(original, output, mask, data_range)
    return float(np.max(np.abs(diff)))


def changed_fraction(
    original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, threshold: float = 2, data_range: float = 255.0
) -> float:
    """Share of outside pixels changed by more than ``threshold`` levels (0-255 scale) in any channel."""
    diff = _outside_diff(original, output, mask, data_range)
    return float(np.mean(np.any(np.abs(diff) > threshold, axis=1)))


def mse_inside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean squared error over the pixels inside ``mask`` (how much was repainted)."""
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=False, need_inside=True)
    return float(np.mean((output[mask] - original[mask]) ** 2, dtype=np.float64))


def error_map(original: np.ndarray, output: np.ndarray, *, data_range: float = 255.0) -> np.ndarray:
    """Per-pixel squared error, averaged over the channels: ``H x W`` float64 in 0-255**2 units."""
    original, output = _check_images(original, output, data_range)
    return np.mean((output - original) ** 2, axis=2, dtype=np.float64)


def leakage_metrics(
    original: np.ndarray,
    output: np.ndarray,
    mask: np.ndarray,
    *,
    data_range: float = 255.0,
    threshold: float = 2,
) -> dict[str, float | int]:
    """All leakage metrics in one pass, keyed as :data:`METRIC_NAMES`.

    ``mse_inside`` is ``nan`` for an empty mask; every other key needs at least one outside pixel.
    """
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=False)
    diff = output - original
    outside = diff[~mask]
    squared = outside**2
    mse = float(np.mean(squared, dtype=np.float64))
    inside = diff[mask]
    return {
        "mse_outside": mse,
        "psnr_outside": _psnr(mse),
        "mae_outside": float(np.mean(np.abs(outside), dtype=np.float64)),
        "max_abs_outside": float(np.max(np.abs(outside))),
        "changed_frac": float(np.mean(np.any(np.abs(outside) > threshold, axis=1))),
        "mse_inside": float(np.mean(inside**2, dtype=np.float64)) if inside.size else math.nan,
        "n_outside": int(outside.shape[0]),
    }


#: Default bin edges (pixels) of :func:`edge_profile`: fine near the mask edge, coarse far away.
EDGE_BINS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def edge_profile(
    original: np.ndarray,
    output: np.ndarray,
    distance: np.ndarray,
    *,
    edges: tuple[float, ...] = EDGE_BINS,
    data_range: float = 255.0,
) -> dict[str, list]:
    """Mean squared error of the outside pixels binned by their distance to the mask.

    ``distance`` is :func:`harness.masks.edge_distance` of the mask (0 inside, >= 1 outside).
    Bin ``i`` holds the outside pixels with ``edges[i] <= distance < edges[i + 1]``; the last
    bin is open-ended. Empty bins are left out.

    Returns
    -------
    dict
        ``{"start": [...], "stop": [...], "mse": [...], "count": [...]}``: per non-empty bin its
        edges (``stop`` is ``None`` for the open last bin), its per-pixel MSE (mean over channels) on the 0-255 scale and its number of pixels (so profiles of
        several cases average correctly, weighted by count).
    """
    errors = error_map(original, output, data_range=data_range)
    if distance.shape != errors.shape:
        raise ValueError(f"distance shape {distance.shape} does not match the image's {errors.shape}")
    outside = distance > 0
    bounds = np.append(np.asarray(edges, dtype=np.float64), np.inf)
    which = np.digitize(distance[outside], bounds) - 1  # pixels below edges[0] get -1
    values = errors[outside]
    profile: dict[str, list] = {"start": [], "stop": [], "mse": [], "count": []}
    for i in range(len(edges)):
        chosen = which == i
        count = int(chosen.sum())
        if count:
            profile["start"].append(float(bounds[i]))
            profile["stop"].append(float(bounds[i + 1]) if i + 1 < len(edges) else None)
            profile["mse"].append(float(values[chosen].mean(dtype=np.float64)))
            profile["count"].append(count)
    return profile
