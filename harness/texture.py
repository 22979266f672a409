"""Leakage against local texture: is the error larger where the picture is busy, and whose error is it?

Pure functions over numpy arrays, like :mod:`harness.metrics`. Texture is the local standard
deviation of the grey level (mean of R, G and B) in a square window; the error of each outside
pixel is split into the VAE round trip's part (the floor) and the rest (the excess), so a report
can show whether texture drives the round trip, the diffusion, or both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.metrics import _check_images, _check_mask, error_map

__all__ = ["TEXTURE_WINDOW", "TEXTURE_BINS", "TEXTURE_NAMES", "TextureBasis", "local_std", "texture_basis",
           "texture_profile"]

#: Side in pixels of the window :func:`local_std` looks at.
TEXTURE_WINDOW = 9
#: Number of equal-count texture bins in a :func:`texture_profile`.
TEXTURE_BINS = 5
#: The scalar columns a profile contributes to a result row.
TEXTURE_NAMES = ("texture_rho_floor", "texture_rho_excess")


def local_std(image: np.ndarray, *, window: int = TEXTURE_WINDOW, data_range: float = 255.0) -> np.ndarray:
    """Standard deviation of the grey level in a ``window`` x ``window`` neighbourhood of every pixel.

    The grey level is the mean of the three channels on the 0-255 scale; neighbourhoods at the
    border are mirrored (``scipy.ndimage.uniform_filter``, mode ``reflect``). Returns ``H x W``
    float64 (population standard deviation, 0 on a flat region).
    """
    from scipy import ndimage

    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ValueError(f"window must be a whole number of pixels >= 2, got {window!r}")
    grey, _ = _check_images(image, image, data_range)
    grey = grey.mean(axis=2)
    mean = ndimage.uniform_filter(grey, size=window, mode="reflect")
    mean_of_squares = ndimage.uniform_filter(grey**2, size=window, mode="reflect")
    return np.sqrt(np.maximum(mean_of_squares - mean**2, 0.0))  # rounding can dip below 0 on flat regions


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values)  # ties share their average rank, as in Spearman's rho


def _spearman(x_ranks: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's of the ranks (``x`` ranked once for both errors);
    ``nan`` when either side is constant."""
    if np.ptp(x_ranks) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x_ranks, _ranks(y))[0, 1])


def texture_profile(original: np.ndarray, output: np.ndarray, floor: np.ndarray, mask: np.ndarray, *,
                    window: int = TEXTURE_WINDOW, bins: int = TEXTURE_BINS, data_range: float = 255.0) -> dict:
    """The error outside the mask against local texture, for the floor and for the excess.

    Per outside pixel: its texture (:func:`local_std` of ``original``), its floor error (the
    round trip ``floor``'s :func:`~harness.metrics.error_map`) and its excess error (the
    output's error map minus the floor's). Pixels are ranked by texture and cut into ``bins``
    equal-count bins (ties in rank order of position, so bins stay equal in size).

    Returns
    -------
    dict
        ``low`` / ``high``: each bin's texture range; ``floor`` / ``excess``: each bin's mean
        error (0-255² units, mean over channels); ``count``: pixels per bin;
        ``texture_rho_floor`` / ``texture_rho_excess``: Spearman's rank correlation of texture
        with each error over all outside pixels (``nan`` when one of them is constant).

    Raises
    ------
    ValueError
        For bad inputs, ``bins`` < 1, or fewer outside pixels than bins.
    """
    _check_images(original, output, data_range)
    basis = texture_basis(original, floor, mask, window=window, bins=bins, data_range=data_range)
    return basis.profile(error_map(original, output, data_range=data_range)[~basis.mask])


@dataclass(frozen=True)
class TextureBasis:
    """What a :func:`texture_profile` takes from the original, its round trip and the mask alone:
    the same for every output compared with them, so :func:`texture_basis` computes it once."""

    mask: np.ndarray
    groups: list[np.ndarray]  # the outside pixels of each texture bin (positions among the outside pixels)
    texture_ranks: np.ndarray
    floor_error: np.ndarray  # per outside pixel
    fixed: dict  # the profile's entries that do not depend on the output

    def profile(self, output_error: np.ndarray) -> dict:
        """The :func:`texture_profile` of an output whose error map at the outside pixels
        (row-major order) is ``output_error``."""
        excess_error = output_error - self.floor_error
        fixed = self.fixed
        return {"low": list(fixed["low"]), "high": list(fixed["high"]), "floor": list(fixed["floor"]),
                "excess": [float(excess_error[g].mean()) for g in self.groups],
                "count": [int(g.size) for g in self.groups],
                "texture_rho_floor": fixed["texture_rho_floor"],
                "texture_rho_excess": _spearman(self.texture_ranks, excess_error)}


def texture_basis(original: np.ndarray, floor: np.ndarray, mask: np.ndarray, *, window: int = TEXTURE_WINDOW,
                  bins: int = TEXTURE_BINS, data_range: float = 255.0) -> TextureBasis:
    """The output-independent part of :func:`texture_profile` (same arguments, same errors)."""
    original_f, _ = _check_images(original, floor, data_range)
    mask = _check_mask(mask, original_f.shape, need_outside=True, need_inside=False)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a whole number >= 1, got {bins!r}")
    outside = ~mask
    if int(outside.sum()) < bins:
        raise ValueError(f"{int(outside.sum())} outside pixels cannot fill {bins} texture bins")
    texture = local_std(original, window=window, data_range=data_range)[outside]
    floor_error = error_map(original, floor, data_range=data_range)[outside]
    order = np.argsort(texture, kind="stable")
    groups = np.array_split(order, bins)
    texture_ranks = _ranks(texture)
    fixed = {
        "low": [float(texture[g].min()) for g in groups],
        "high": [float(texture[g].max()) for g in groups],
        "floor": [float(floor_error[g].mean()) for g in groups],
        "texture_rho_floor": _spearman(texture_ranks, floor_error),
    }
    return TextureBasis(mask, groups, texture_ranks, floor_error, fixed)
