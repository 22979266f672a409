"""Leakage metrics: how much a pipeline changed the pixels it was told to leave alone.

Pure functions over numpy arrays: no I/O, no torch. Conventions (see DESIGN.md):

* ``original`` and ``output`` are ``H x W x 3`` arrays (uint8 or float) whose full range is
  ``data_range`` (255 for uint8; 1.0 for floats in [0, 1]); every result is reported on the
  0-255 scale whatever the input range, so numbers from different sources compare;
* ``mask`` is a boolean ``H x W`` array, ``True`` = the region to inpaint;
* "outside" means the pixels where ``mask`` is ``False``;
* every difference is taken in float64, never in the input dtype (uint8 differences wrap);
* means are per element (pixel x channel), not per pixel.

Three groups of per-case numbers, together :data:`METRIC_NAMES` (the store's metric columns, the
names thresholds and tolerances accept): the leakage itself (:func:`leakage_metrics`), what users
see (:func:`visible_metrics`: colour shift, SSIM, lost detail, seams) and the excess over the VAE
round trip (:func:`excess_metrics`).
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
    "color_shift",
    "color_shift_outside",
    "ssim_outside",
    "detail_loss_outside",
    "seam",
    "visible_metrics",
    "mse_excess",
    "excess_metrics",
    "excess_profile",
    "LEAKAGE_NAMES",
    "VISIBLE_NAMES",
    "EXCESS_NAMES",
    "METRIC_NAMES",
    "EDGE_BINS",
    "SEAM_WIDTH",
]

#: Keys of the dict returned by :func:`leakage_metrics`, in a stable order.
LEAKAGE_NAMES = (
    "mse_outside",
    "psnr_outside",
    "mae_outside",
    "max_abs_outside",
    "changed_frac",
    "mse_inside",
    "n_outside",
)
#: Keys of the dict returned by :func:`visible_metrics`.
VISIBLE_NAMES = (
    "color_shift_outside",
    "color_shift_r",
    "color_shift_g",
    "color_shift_b",
    "ssim_outside",
    "detail_loss_outside",
    "seam",
)
#: Keys of the dict returned by :func:`excess_metrics`.
EXCESS_NAMES = ("mse_floor", "mse_excess")
#: Every per-case metric, in a stable order.
METRIC_NAMES = LEAKAGE_NAMES + VISIBLE_NAMES + EXCESS_NAMES


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
    """All leakage metrics in one pass, keyed as :data:`LEAKAGE_NAMES`.

    ``mse_inside`` is ``nan`` for an empty mask; every other key needs at least one outside pixel.
    """
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=False)
    diff = output - original
    return _leakage(diff[~mask], diff[mask], threshold)


def _leakage(outside: np.ndarray, inside: np.ndarray, threshold: float) -> dict[str, float | int]:
    """:func:`leakage_metrics` from the differences at the outside and inside pixels, each (n, 3)."""
    squared = outside**2
    mse = float(np.mean(squared, dtype=np.float64))
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
    return _binned_profile(errors, _edge_bins(distance, edges))


def _edge_bins(distance: np.ndarray, edges: tuple[float, ...]) -> list[tuple[float, float | None, np.ndarray]]:
    """Each non-empty bin of :func:`edge_profile`: its start, its stop and its pixels (flat indices
    in row-major order, the order a boolean selection gives)."""
    outside = np.flatnonzero(distance > 0)
    bounds = np.append(np.asarray(edges, dtype=np.float64), np.inf)
    which = np.digitize(distance.ravel()[outside], bounds) - 1  # pixels below edges[0] get -1
    bins = []
    for i in range(len(edges)):
        pixels = outside[which == i]
        if pixels.size:
            bins.append((float(bounds[i]), float(bounds[i + 1]) if i + 1 < len(edges) else None, pixels))
    return bins


def _binned_profile(errors: np.ndarray, bins: list[tuple[float, float | None, np.ndarray]]) -> dict[str, list]:
    """:func:`edge_profile` of an error map over bins from :func:`_edge_bins`."""
    flat = errors.ravel()
    return {"start": [start for start, _, _ in bins], "stop": [stop for _, stop, _ in bins],
            "mse": [float(flat[pixels].mean(dtype=np.float64)) for _, _, pixels in bins],
            "count": [int(pixels.size) for _, _, pixels in bins]}


# -- what users see ------------------------------------------------------------------------------

#: Pixels on each side of the mask boundary that :func:`seam` looks at.
SEAM_WIDTH = 3
_SSIM_WINDOW = 7  # scikit-image's default window side
_SSIM_COV_NORM = _SSIM_WINDOW**2 / (_SSIM_WINDOW**2 - 1)  # its sample covariance


def color_shift(
    original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0
) -> tuple[float, float, float]:
    """Signed mean change of each channel (R, G, B) over the outside pixels, on the 0-255 scale.

    A global brightening or tint moves the means; MSE hides it among the noise.

    Examples
    --------
    >>> a = np.full((2, 2, 3), 100, np.uint8)
    >>> color_shift(a, a + np.uint8(5), np.zeros((2, 2), bool))
    (5.0, 5.0, 5.0)
    """
    return _color_shift(_outside_diff(original, output, mask, data_range))


def _color_shift(outside: np.ndarray) -> tuple[float, float, float]:
    red, green, blue = np.mean(outside, axis=0, dtype=np.float64)
    return float(red), float(green), float(blue)


def color_shift_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """The largest magnitude over the channels of :func:`color_shift` (levels, >= 0)."""
    return max(abs(v) for v in color_shift(original, output, mask, data_range=data_range))


def ssim_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean structural similarity over the outside pixels: 1 when unchanged, lower as structure changes.

    The SSIM map is scikit-image's ``structural_similarity(original, output, channel_axis=2,
    data_range=255, full=True)`` of the images on the 0-255 scale (7 x 7 uniform window, per
    channel, sample covariance), evaluated here with the same operations in the same order so that
    the original's half of it can be computed once per image (:func:`_ssim_basis`). Its mean is
    taken over the outside pixels and the channels, leaving out the 3-pixel image border as
    scikit-image's own mean does; with an empty mask the result is scikit-image's mean SSIM.
    Windows near the mask edge also see repainted pixels, as any windowed measure does.

    Raises
    ------
    ValueError
        For bad inputs, a side shorter than the 7-pixel window, or no outside pixel off the border.
    """
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=False)
    return _ssim_mean(_ssim_basis(original, _ssim_pixels(mask)), output)


def _ssim_pixels(mask: np.ndarray) -> np.ndarray:
    """The pixels :func:`ssim_outside` averages: outside the mask and off the window's border strip."""
    if min(mask.shape) < _SSIM_WINDOW:
        raise ValueError(f"ssim_outside needs both sides >= {_SSIM_WINDOW} pixels (its window), got {mask.shape}")
    pad = (_SSIM_WINDOW - 1) // 2
    chosen = np.zeros(mask.shape, bool)
    chosen[pad:-pad, pad:-pad] = True
    chosen &= ~mask
    if not chosen.any():
        raise ValueError(f"no outside pixel lies {pad} pixels or more from the image border: SSIM is biased there")
    return chosen


def _ssim_basis(original: np.ndarray, chosen: np.ndarray) -> tuple:
    """The original's part of the SSIM map at the ``chosen`` pixels, per channel: the image, its
    windowed mean and its windowed variance (what scikit-image calls ``im1``, ``ux`` and ``vx``)."""
    from scipy.ndimage import uniform_filter  # what structural_similarity filters with (mode 'reflect')

    channels = []
    for c in range(original.shape[2]):
        image = original[..., c]
        mean = uniform_filter(image, size=_SSIM_WINDOW)
        mean_of_squares = uniform_filter(image * image, size=_SSIM_WINDOW)
        channels.append((image, mean[chosen], (_SSIM_COV_NORM * (mean_of_squares - mean * mean))[chosen]))
    return chosen, channels


def _ssim_mean(basis: tuple, output: np.ndarray) -> float:
    """Mean over the basis's pixels and the channels of the SSIM map of ``output`` (float64, 0-255)
    against the original of ``basis``; scikit-image 0.26's ``structural_similarity`` formulas."""
    from scipy.ndimage import uniform_filter

    chosen, channels = basis
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2  # K1, K2 at data_range 255
    values = []
    for c, (image, ux, vx) in enumerate(channels):
        other = output[..., c]
        uy = uniform_filter(other, size=_SSIM_WINDOW)[chosen]
        uyy = uniform_filter(other * other, size=_SSIM_WINDOW)[chosen]
        uxy = uniform_filter(image * other, size=_SSIM_WINDOW)[chosen]
        vy = _SSIM_COV_NORM * (uyy - uy * uy)
        vxy = _SSIM_COV_NORM * (uxy - ux * uy)
        a1, a2, b1, b2 = 2 * ux * uy + c1, 2 * vxy + c2, ux**2 + uy**2 + c1, vx + vy + c2
        values.append((a1 * a2) / (b1 * b2))
    # the (pixels x channels) layout of the full map indexed by the pixels, so the mean sums alike
    return float(np.mean(np.stack(values, axis=1), dtype=np.float64))


def _per_channel(function, image: np.ndarray) -> np.ndarray:
    # scipy's filters on a 3-D array would also smooth across the channel axis
    return np.stack([function(image[..., c]) for c in range(image.shape[2])], axis=2)


def detail_loss_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, data_range: float = 255.0) -> float:
    """Share of the original's fine detail lost outside the mask: ``1 - E(output) / E(original)``.

    ``E`` is the high-frequency energy: the sum of squares of the 4-neighbour Laplacian
    (``scipy.ndimage.laplace`` per channel, borders reflected) over the outside pixels whose four
    neighbours are outside too, so repainted pixels never enter the stencil. 0 when detail is
    kept, positive when texture was smoothed away (1: all of it), negative when the output is
    sharper or noisier than the original; ``nan`` when the original is flat there (nothing to lose).

    Raises
    ------
    ValueError
        For bad inputs, or when no outside pixel has all four neighbours outside.
    """
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=False)
    chosen = _detail_pixels(mask)
    return _detail_loss(_laplace_energy(original, chosen), _laplace_energy(output, chosen))


def _detail_pixels(mask: np.ndarray) -> np.ndarray:
    """The outside pixels whose four neighbours are outside too (where :func:`detail_loss_outside` looks)."""
    from scipy import ndimage

    chosen = ~ndimage.binary_dilation(mask, structure=ndimage.generate_binary_structure(2, 1))
    if not chosen.any():
        raise ValueError("no outside pixel has all four neighbours outside the mask: detail_loss_outside is undefined")
    return chosen


def _laplace_energy(image: np.ndarray, chosen: np.ndarray) -> float:
    """Sum of squares of the per-channel Laplacian of ``image`` (float64) at the ``chosen`` pixels."""
    from scipy import ndimage

    laplace = lambda channel: ndimage.laplace(channel, mode="reflect")  # noqa: E731
    return float(np.sum(_per_channel(laplace, image)[chosen] ** 2, dtype=np.float64))


def _detail_loss(before: float, after: float) -> float:
    return math.nan if before == 0.0 else 1.0 - after / before


def _gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Per-channel Sobel gradient magnitude in levels per pixel (a ramp of slope 1 gives 1)."""
    from scipy import ndimage

    rows = _per_channel(lambda c: ndimage.sobel(c, axis=0, mode="reflect"), image)
    cols = _per_channel(lambda c: ndimage.sobel(c, axis=1, mode="reflect"), image)
    return np.hypot(rows, cols) / 8.0  # the Sobel kernels weigh a unit slope 8 times


def seam(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *, width: int = SEAM_WIDTH,
         data_range: float = 255.0) -> float:
    """Edge strength the output adds along the mask boundary: the visible seam of a paste-back.

    In the band of pixels at most ``width`` pixels (Euclidean) from the boundary on either side,
    the mean over pixels and channels of ``max(0, G(output) - G(original))``, where ``G`` is the
    per-channel Sobel gradient magnitude in levels per pixel (``scipy.ndimage.sobel`` / 8,
    borders reflected). 0 when the output adds no edge there (smoothing alone is
    :func:`detail_loss_outside`'s business); a flat patch pasted into a textured picture, or an
    original pasted back around repainted content that does not match it, gives a positive value.

    Raises
    ------
    ValueError
        For bad inputs, an empty or full mask (no boundary), or ``width`` < 1.
    """
    original, output = _check_images(original, output, data_range)
    mask = _check_mask(mask, original.shape, need_outside=True, need_inside=True)
    band = _seam_band(mask, width)
    return _seam(_band_gradient(original, band), _band_gradient(output, band))


def _seam_band(mask: np.ndarray, width: int) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The pixels within ``width`` of the mask boundary on either side, and the smallest window of
    the image that holds them and their 3 x 3 neighbourhoods (all a Sobel filter reads for them)."""
    from scipy import ndimage

    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"width must be a whole number of pixels >= 1, got {width!r}")
    # pixels within `width` (Euclidean, centre to centre) of a pixel on the other side: a dilation
    # by a disc, the same set as thresholding distance transforms and several times faster
    offsets = np.arange(-width, width + 1)
    disc = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= width**2
    band = (ndimage.binary_dilation(mask, disc) & ~mask) | (ndimage.binary_dilation(~mask, disc) & mask)
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    window = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2))
    return band[window], window


def _band_gradient(image: np.ndarray, band: tuple[np.ndarray, tuple[slice, slice]]) -> np.ndarray:
    """:func:`_gradient_magnitude` of ``image`` at the band's pixels, filtering only the band's
    window: a 3 x 3 filter gives the same value there as on the whole image, since the window
    holds every neighbour it reads and meets the image's border only where the image does."""
    pixels, window = band
    return _gradient_magnitude(image[window])[pixels]


def _seam(before: np.ndarray, after: np.ndarray) -> float:
    return float(np.mean(np.maximum(after - before, 0.0), dtype=np.float64))


def visible_metrics(original: np.ndarray, output: np.ndarray, mask: np.ndarray, *,
                    data_range: float = 255.0) -> dict[str, float]:
    """The defects users see, keyed as :data:`VISIBLE_NAMES`: colour shift (largest magnitude and
    each channel), SSIM, detail loss and seam outside the mask. ``seam`` is ``nan`` for an empty mask."""
    shift = color_shift(original, output, mask, data_range=data_range)
    return _visible(shift, ssim_outside(original, output, mask, data_range=data_range),
                    detail_loss_outside(original, output, mask, data_range=data_range),
                    seam(original, output, mask, data_range=data_range) if np.any(mask) else math.nan)


def _visible(shift: tuple[float, float, float], ssim: float, detail_loss: float, seam_value: float) -> dict[str, float]:
    return {
        "color_shift_outside": max(abs(v) for v in shift),
        "color_shift_r": shift[0],
        "color_shift_g": shift[1],
        "color_shift_b": shift[2],
        "ssim_outside": ssim,
        "detail_loss_outside": detail_loss,
        "seam": seam_value,
    }


# -- the excess over the VAE floor -------------------------------------------------------------


def mse_excess(original: np.ndarray, output: np.ndarray, floor: np.ndarray, mask: np.ndarray, *,
               data_range: float = 255.0) -> float:
    """Leakage beyond the VAE round trip: ``mse_outside(original, output) - mse_outside(original, floor)``.

    ``floor`` is the image's VAE round trip (encode, decode, no denoising), compared over the
    same outside pixels. Near 0 when the round trip explains the leakage; negative when the
    output is closer to the original than the round trip (a paste-back, for instance).
    """
    return excess_metrics(original, output, floor, mask, data_range=data_range)["mse_excess"]


def excess_metrics(original: np.ndarray, output: np.ndarray, floor: np.ndarray, mask: np.ndarray, *,
                   data_range: float = 255.0) -> dict[str, float]:
    """``mse_floor`` (the round trip's MSE outside this mask) and ``mse_excess``, as :data:`EXCESS_NAMES`."""
    floor_mse = mse_outside(original, floor, mask, data_range=data_range)
    return {"mse_floor": floor_mse, "mse_excess": mse_outside(original, output, mask, data_range=data_range) - floor_mse}


def excess_profile(original: np.ndarray, output: np.ndarray, floor: np.ndarray, distance: np.ndarray, *,
                   edges: tuple[float, ...] = EDGE_BINS, data_range: float = 255.0) -> dict[str, list]:
    """:func:`edge_profile` of ``output`` minus that of the round trip ``floor``, bin by bin.

    Both profiles cover the same pixels (same ``distance``), so bins and counts agree; ``mse``
    holds the excess per bin.
    """
    total = edge_profile(original, output, distance, edges=edges, data_range=data_range)
    base = edge_profile(original, floor, distance, edges=edges, data_range=data_range)
    return {**total, "mse": [t - b for t, b in zip(total["mse"], base["mse"])]}
