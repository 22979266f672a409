"""What every output compared with one original under one mask shares, computed once.

A sweep compares many outputs (strengths, seeds, mitigations) with the same prepared image under
the same mask, against the same VAE round trip. Most of the work behind a metrics row depends on
those alone: the original as float64, its SSIM window statistics, its Laplacian energy and its
gradients along the mask's edge, the pixels of each edge-distance bin, and everything the texture
profile takes from the original and the round trip (local texture, its ranks, the floor's error).
:class:`Reference` and :class:`FloorReference` hold those parts; their ``row`` methods give for an
output exactly the numbers the functions of :mod:`harness.metrics` and :mod:`harness.texture`
give, because they run the same private steps those functions are made of, and compute the
output's differences and error map once for all of them.
"""

from __future__ import annotations

import math

import numpy as np

from harness import metrics
from harness.metrics import EDGE_BINS, SEAM_WIDTH
from harness.texture import TEXTURE_NAMES, TextureBasis, texture_basis

__all__ = ["Reference", "FloorReference"]


class Reference:
    """An original image and a mask, with the parts of the per-output metrics that depend on them alone.

    Parameters
    ----------
    original : numpy.ndarray
        ``H x W x 3``, full range ``data_range``.
    mask : numpy.ndarray
        Boolean ``H x W``, ``True`` = the region to inpaint; at least one pixel outside.
    distance : numpy.ndarray
        :func:`harness.masks.edge_distance` of ``mask`` (the edge profile's bins).

    Raises
    ------
    ValueError
        For the inputs the metric functions reject (the same messages).
    """

    def __init__(self, original: np.ndarray, mask: np.ndarray, distance: np.ndarray, *, data_range: float = 255.0):
        self.original, _ = metrics._check_images(original, original, data_range)
        self.data_range = data_range
        self.mask = metrics._check_mask(mask, self.original.shape, need_outside=True, need_inside=False)
        if distance.shape != mask.shape:
            raise ValueError(f"distance shape {distance.shape} does not match the image's {mask.shape}")
        self._ssim = metrics._ssim_basis(self.original, metrics._ssim_pixels(mask))
        self._detail_pixels = metrics._detail_pixels(mask)
        self._detail_before = metrics._laplace_energy(self.original, self._detail_pixels)
        self._band = metrics._seam_band(mask, SEAM_WIDTH) if mask.any() else None
        self._band_before = None if self._band is None else metrics._band_gradient(self.original, self._band)
        self._edge_bins = metrics._edge_bins(distance, EDGE_BINS)

    def row(self, output: np.ndarray, floor: FloorReference | None = None) -> dict:
        """The metrics of ``output``: :func:`~harness.metrics.leakage_metrics`,
        :func:`~harness.metrics.visible_metrics` and ``edge_profile``; with ``floor`` also
        :func:`~harness.metrics.excess_metrics`, ``excess_profile``, the texture correlations
        (:data:`~harness.texture.TEXTURE_NAMES`) and ``texture_profile``."""
        output, _ = metrics._check_images(output, output, self.data_range)
        if output.shape != self.original.shape:
            raise ValueError(f"original and output shapes differ: {self.original.shape} vs {output.shape}")
        diff = output - self.original
        outside = diff[~self.mask]
        row = metrics._leakage(outside, diff[self.mask], threshold=2)
        seam = math.nan if self._band is None else metrics._seam(self._band_before,
                                                                 metrics._band_gradient(output, self._band))
        detail = metrics._detail_loss(self._detail_before, metrics._laplace_energy(output, self._detail_pixels))
        row.update(metrics._visible(metrics._color_shift(outside), metrics._ssim_mean(self._ssim, output), detail, seam))
        errors = np.mean(diff**2, axis=2, dtype=np.float64)  # metrics.error_map of the output
        row["edge_profile"] = metrics._binned_profile(errors, self._edge_bins)
        if floor is not None:
            row.update(floor.row(row, errors))
        return row


class FloorReference:
    """A :class:`Reference` with the image's VAE round trip ``floor``: what the excess metrics and
    the texture profile take from the original, the round trip and the mask alone."""

    def __init__(self, reference: Reference, floor: np.ndarray):
        original, mask = reference.original, reference.mask
        floor, _ = metrics._check_images(floor, floor, reference.data_range)
        if floor.shape != original.shape:
            raise ValueError(f"original and floor shapes differ: {original.shape} vs {floor.shape}")
        # from here on everything is float64 on the 0-255 scale
        self.mse_floor = metrics.mse_outside(original, floor, mask)
        self.profile = metrics._binned_profile(metrics.error_map(original, floor), reference._edge_bins)
        self.texture: TextureBasis = texture_basis(original, floor, mask)

    def row(self, leakage: dict, errors: np.ndarray) -> dict:
        """The excess and texture entries of a row whose leakage metrics and error map are given."""
        total = leakage["edge_profile"]
        texture = self.texture.profile(errors[~self.texture.mask])
        return {
            "mse_floor": self.mse_floor,
            "mse_excess": leakage["mse_outside"] - self.mse_floor,
            "excess_profile": {**total, "mse": [t - b for t, b in zip(total["mse"], self.profile["mse"])]},
            **{name: texture.pop(name) for name in TEXTURE_NAMES},
            "texture_profile": texture,
        }
