"""Tests of the metrics users see (colour shift, SSIM, detail loss, seam) and of the excess over the
VAE floor: planted changes with known answers, and second formulas written out with numpy
windows and Python loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from harness.masks import disc_mask, edge_distance
from harness.metrics import (
    EXCESS_NAMES,
    VISIBLE_NAMES,
    color_shift,
    color_shift_outside,
    detail_loss_outside,
    edge_profile,
    excess_metrics,
    excess_profile,
    mse_excess,
    mse_outside,
    seam,
    ssim_outside,
    visible_metrics,
)


@pytest.fixture(scope="module")
def textured():
    """A seeded textured picture (noise on a gradient) and a centred disc mask."""
    rng = np.random.default_rng(4)
    y, x = np.mgrid[0:40, 0:48]
    base = np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(float) + 40
    image = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    return image, disc_mask(40, 48, 0.5)


def _blur(image: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    smooth = ndimage.gaussian_filter(image.astype(float), sigma=(sigma, sigma, 0))
    return np.clip(np.round(smooth), 0, 255).astype(np.uint8)


# -- colour shift --------------------------------------------------------------------------------


def test_a_global_shift_of_five_is_five(textured):
    image, mask = textured
    low = np.clip(image, 0, 250)  # room for +5 without clipping
    assert color_shift(low, low + np.uint8(5), mask) == (5.0, 5.0, 5.0)
    assert color_shift_outside(low, low + np.uint8(5), mask) == 5.0
    darker = np.clip(image, 5, 255)
    assert color_shift(darker, darker - np.uint8(5), mask) == (-5.0, -5.0, -5.0)
    assert color_shift_outside(darker, darker - np.uint8(5), mask) == 5.0


def test_a_tint_moves_one_channel_and_the_magnitude_is_the_largest(textured):
    image, mask = textured
    tinted = image.astype(int)
    tinted[..., 2] -= 7
    tinted[..., 0] += 2
    tinted[mask] += 100  # the inside does not count
    red, green, blue = color_shift(image, tinted, mask)
    assert (red, green, blue) == (2.0, 0.0, -7.0)
    assert color_shift_outside(image, tinted, mask) == 7.0


def test_colour_shift_against_loops():
    rng = np.random.default_rng(9)
    original = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    output = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    mask = rng.random((9, 11)) < 0.3
    sums, n = [0, 0, 0], 0
    for i in range(9):
        for j in range(11):
            if not mask[i, j]:
                n += 1
                for c in range(3):
                    sums[c] += int(output[i, j, c]) - int(original[i, j, c])
    assert color_shift(original, output, mask) == pytest.approx([s / n for s in sums], rel=1e-12)


# -- SSIM ----------------------------------------------------------------------------------------


def _ssim_map(a: np.ndarray, b: np.ndarray, window: int = 7) -> np.ndarray:
    """SSIM of one channel at every pixel whose window fits, written out (sample covariance)."""
    a, b = a.astype(float), b.astype(float)
    wa, wb = sliding_window_view(a, (window, window)), sliding_window_view(b, (window, window))
    n = window * window
    ua, ub = wa.mean(axis=(2, 3)), wb.mean(axis=(2, 3))
    va = ((wa - ua[..., None, None]) ** 2).sum(axis=(2, 3)) / (n - 1)
    vb = ((wb - ub[..., None, None]) ** 2).sum(axis=(2, 3)) / (n - 1)
    cov = ((wa - ua[..., None, None]) * (wb - ub[..., None, None])).sum(axis=(2, 3)) / (n - 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return ((2 * ua * ub + c1) * (2 * cov + c2)) / ((ua**2 + ub**2 + c1) * (va + vb + c2))


def test_ssim_outside_against_a_written_out_ssim(textured):
    image, mask = textured
    rng = np.random.default_rng(2)
    output = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    maps = np.stack([_ssim_map(image[..., c], output[..., c]) for c in range(3)], axis=2)  # (H-6) x (W-6)
    outside = ~mask[3:-3, 3:-3]
    assert ssim_outside(image, output, mask) == pytest.approx(maps[outside].mean(), rel=1e-9)
    assert ssim_outside(image, output, np.zeros_like(mask)) == pytest.approx(maps.mean(), rel=1e-9)


def test_ssim_is_one_unchanged_and_drops_with_blur(textured):
    image, mask = textured
    assert ssim_outside(image, image, mask) == pytest.approx(1.0)
    repainted = image.copy()
    repainted[mask] = 0
    # only windows that reach into the mask see the repainting
    assert 0.5 < ssim_outside(image, repainted, mask) < 1.0
    assert ssim_outside(image, _blur(image, 1.0), mask) > ssim_outside(image, _blur(image, 2.0), mask)
    assert ssim_outside(image, _blur(image), mask) < 0.9


def test_ssim_needs_its_window():
    small = np.zeros((6, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="both sides >= 7 pixels"):
        ssim_outside(small, small, np.zeros((6, 20), bool))
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[3:5, 3:5] = True  # the only off-border pixels (rows/cols 3-4) are all masked
    with pytest.raises(ValueError, match="3 pixels or more from the image border"):
        ssim_outside(image, image, mask)


# -- detail loss ---------------------------------------------------------------------------------


def _laplacian(channel: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian with the border mirrored (scipy's 'reflect' is numpy's 'symmetric')."""
    p = np.pad(channel.astype(float), 1, mode="symmetric")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


def _detail_loss_loops(original, output, mask):
    height, width = mask.shape
    before = after = 0.0
    lap_o = [_laplacian(original[..., c]) for c in range(3)]
    lap_y = [_laplacian(output[..., c]) for c in range(3)]
    for i in range(height):
        for j in range(width):
            neighbours = [(i, j), (i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)]
            if any(0 <= a < height and 0 <= b < width and mask[a, b] for a, b in neighbours):
                continue
            for c in range(3):
                before += lap_o[c][i, j] ** 2
                after += lap_y[c][i, j] ** 2
    return 1 - after / before


def test_detail_loss_against_loops(textured):
    image, mask = textured
    output = _blur(image, 0.8)
    assert detail_loss_outside(image, output, mask) == pytest.approx(_detail_loss_loops(image, output, mask), rel=1e-9)


def test_a_blur_outside_loses_detail_and_noise_adds_it(textured):
    image, mask = textured
    assert detail_loss_outside(image, image, mask) == 0.0
    blurred = detail_loss_outside(image, _blur(image, 1.0), mask)
    more = detail_loss_outside(image, _blur(image, 2.0), mask)
    assert 0 < blurred < more < 1
    flat = np.full_like(image, 128)
    assert detail_loss_outside(image, flat, mask) == 1.0
    noisy = np.clip(image + np.random.default_rng(1).normal(0, 30, image.shape), 0, 255).astype(np.uint8)
    assert detail_loss_outside(image, noisy, mask) < 0
    # repainting the inside does not count
    repainted = image.copy()
    repainted[mask] = 0
    assert detail_loss_outside(image, repainted, mask) == 0.0


def test_detail_loss_of_a_flat_original_is_nan_and_needs_clear_pixels():
    flat = np.full((10, 10, 3), 90, np.uint8)
    mask = np.zeros((10, 10), bool)
    mask[4:6, 4:6] = True
    assert math.isnan(detail_loss_outside(flat, flat + np.uint8(1), mask))
    stripes = np.zeros((10, 10), bool)
    stripes[:, ::2] = True  # every outside pixel has a masked neighbour
    with pytest.raises(ValueError, match="all four neighbours outside the mask"):
        detail_loss_outside(flat, flat, stripes)


# -- seam ----------------------------------------------------------------------------------------


def _sobel_magnitude(channel: np.ndarray) -> np.ndarray:
    p = np.pad(channel.astype(float), 1, mode="symmetric")
    rows = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    cols = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    return np.hypot(rows, cols) / 8


def _seam_loops(original, output, mask, width):
    inside = [(i, j) for i, j in zip(*np.nonzero(mask))]
    outside = [(i, j) for i, j in zip(*np.nonzero(~mask))]
    g_o = [_sobel_magnitude(original[..., c]) for c in range(3)]
    g_y = [_sobel_magnitude(output[..., c]) for c in range(3)]
    values = []
    for i, j in zip(*np.nonzero(np.ones_like(mask))):
        others = outside if mask[i, j] else inside
        nearest = min(math.hypot(i - a, j - b) for a, b in others)
        if nearest <= width:
            values.extend(max(0.0, g_y[c][i, j] - g_o[c][i, j]) for c in range(3))
    return sum(values) / len(values)


def test_seam_against_loops(textured):
    image, mask = textured
    pasted = np.where(mask[..., None], _blur(image, 2.0) // 2, image)
    for width in (1, 3):
        assert seam(image, pasted, mask, width=width) == pytest.approx(_seam_loops(image, pasted, mask, width),
                                                                       rel=1e-9)


def test_pasting_a_flat_patch_makes_a_seam(textured):
    image, mask = textured
    flat = np.full((40, 48, 3), 60, np.uint8)
    patched = np.where(mask[..., None], np.uint8(200), flat)
    assert seam(flat, flat, mask) == 0.0
    assert seam(flat, patched, mask) > 10  # a 140-level step across the boundary
    patched_texture = np.where(mask[..., None], np.uint8(128), image)
    assert seam(image, patched_texture, mask) > 0
    assert seam(image, image, mask) == 0.0


def test_a_ramp_gives_its_slope_and_smoothing_adds_no_seam():
    ramp = np.repeat(np.repeat(np.arange(30.0)[None, :, None] * 3, 20, axis=0), 3, axis=2).astype(np.uint8)
    np.testing.assert_allclose(_sobel_magnitude(ramp[..., 0])[:, 1:-1], 3.0)
    mask = disc_mask(20, 30, 0.5)
    steep = (ramp.astype(int) * 2).clip(0, 255).astype(np.uint8)
    assert seam(ramp, steep, mask) > 0
    assert seam(steep, ramp, mask) == 0.0  # a gentler output adds no edge


def test_seam_needs_a_boundary_and_a_width(textured):
    image, _ = textured
    with pytest.raises(ValueError, match="mask is empty"):
        seam(image, image, np.zeros((40, 48), bool))
    with pytest.raises(ValueError, match="no pixel outside"):
        seam(image, image, np.ones((40, 48), bool))
    for width in (0, 1.5, True):
        with pytest.raises(ValueError, match="width must be a whole number"):
            seam(image, image, disc_mask(40, 48, 0.5), width=width)


def test_visible_metrics_equal_the_functions(textured):
    image, mask = textured
    output = _blur(image, 1.0)
    row = visible_metrics(image, output, mask)
    assert tuple(row) == VISIBLE_NAMES
    shift = color_shift(image, output, mask)
    assert (row["color_shift_r"], row["color_shift_g"], row["color_shift_b"]) == shift
    assert row["color_shift_outside"] == color_shift_outside(image, output, mask)
    assert row["ssim_outside"] == ssim_outside(image, output, mask)
    assert row["detail_loss_outside"] == detail_loss_outside(image, output, mask)
    assert row["seam"] == seam(image, output, mask)
    assert math.isnan(visible_metrics(image, output, np.zeros_like(mask))["seam"])
    unit = visible_metrics(image / 255.0, output / 255.0, mask, data_range=1.0)
    assert unit == pytest.approx(row, rel=1e-9)


@pytest.mark.parametrize("fn", [color_shift, color_shift_outside, ssim_outside, detail_loss_outside, seam])
def test_visible_metrics_check_their_inputs(fn, textured):
    image, mask = textured
    with pytest.raises(ValueError, match="shapes differ"):
        fn(image, image[:, :-1], mask)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        fn(image, image, mask.astype(np.uint8))
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        fn(image, image, mask, data_range=0)


# -- excess over the floor -----------------------------------------------------------------------


def test_mse_excess_is_the_output_minus_the_round_trip_on_the_same_pixels(textured):
    image, mask = textured
    rng = np.random.default_rng(3)
    floor = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    output = np.clip(floor + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    outside = ~mask
    floor_mse = ((floor.astype(float) - image) ** 2)[outside].sum() / (3 * outside.sum())
    total = ((output.astype(float) - image) ** 2)[outside].sum() / (3 * outside.sum())
    assert mse_excess(image, output, floor, mask) == pytest.approx(total - floor_mse, rel=1e-12)
    row = excess_metrics(image, output, floor, mask)
    assert tuple(row) == EXCESS_NAMES and row["mse_floor"] == pytest.approx(floor_mse, rel=1e-12)
    assert mse_excess(image, floor, floor, mask) == 0.0
    assert mse_excess(image, image, floor, mask) == pytest.approx(-floor_mse)  # a paste-back beats the floor


def test_excess_profile_subtracts_bin_by_bin(textured):
    image, mask = textured
    rng = np.random.default_rng(8)
    floor = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    output = np.clip(image + rng.normal(0, 9, image.shape), 0, 255).astype(np.uint8)
    distance = edge_distance(mask)
    profile = excess_profile(image, output, floor, distance)
    total, base = edge_profile(image, output, distance), edge_profile(image, floor, distance)
    assert profile["start"] == total["start"] and profile["count"] == base["count"]
    assert profile["mse"] == pytest.approx([t - b for t, b in zip(total["mse"], base["mse"])])
    weighted = sum(m * c for m, c in zip(profile["mse"], profile["count"])) / sum(profile["count"])
    assert weighted == pytest.approx(mse_excess(image, output, floor, mask), rel=1e-9)
    assert mse_outside(image, output, mask) > mse_outside(image, floor, mask)
