"""Tests of harness.metrics: hand-computed values on tiny arrays, and a second formula on seeded
random arrays (scikit-image's metrics, or explicit Python loops over the outside pixels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

from harness import metrics
from harness.metrics import (
    EDGE_BINS,
    EXCESS_NAMES,
    LEAKAGE_NAMES,
    METRIC_NAMES,
    VISIBLE_NAMES,
    changed_fraction,
    edge_profile,
    error_map,
    leakage_metrics,
    mae_outside,
    max_abs_outside,
    mse_inside,
    mse_outside,
    psnr_outside,
)

OUTSIDE_METRICS = (mse_outside, psnr_outside, mae_outside, max_abs_outside, changed_fraction)


# -- small hand-made example -------------------------------------------------------------------
#
# A 2 x 2 image, mask only on the bottom-right pixel, so 3 outside pixels = 9 outside elements.
#
#   original: every element 10.
#   output:   (0,0) = (10, 13, 7)   -> diffs ( 0, +3, -3)
#             (0,1) = (10, 10, 11)  -> diffs ( 0,  0, +1)
#             (1,0) = (10, 10, 10)  -> diffs ( 0,  0,  0)
#             (1,1) = (110, 10, 10) -> diffs (100, 0,  0)   [inside the mask]


def _hand_example():
    original = np.full((2, 2, 3), 10, np.uint8)
    output = original.copy()
    output[0, 0] = (10, 13, 7)
    output[0, 1] = (10, 10, 11)
    output[1, 1] = (110, 10, 10)
    mask = np.array([[False, False], [False, True]])
    return original, output, mask


def test_hand_example_values():
    original, output, mask = _hand_example()
    # squared diffs outside: 0+9+9 + 0+0+1 + 0+0+0 = 19 over 9 elements
    assert mse_outside(original, output, mask) == pytest.approx(19 / 9)
    assert psnr_outside(original, output, mask) == pytest.approx(10 * math.log10(255**2 / (19 / 9)))
    # absolute diffs outside: 3+3+1 = 7 over 9 elements
    assert mae_outside(original, output, mask) == pytest.approx(7 / 9)
    assert max_abs_outside(original, output, mask) == 3.0
    # threshold 2 (default): only pixel (0,0) has a channel with |diff| > 2 -> 1 of 3 pixels
    assert changed_fraction(original, output, mask) == pytest.approx(1 / 3)
    # threshold 0: pixels (0,0) and (0,1) changed -> 2 of 3
    assert changed_fraction(original, output, mask, threshold=0) == pytest.approx(2 / 3)
    # threshold 3: |3| is not strictly greater than 3 -> 0 of 3
    assert changed_fraction(original, output, mask, threshold=3) == 0.0
    # inside: one pixel, diffs (100, 0, 0) -> 10000 / 3
    assert mse_inside(original, output, mask) == pytest.approx(10000 / 3)


def test_hand_example_error_map():
    original, output, mask = _hand_example()
    expected = np.array(
        [
            [(0 + 9 + 9) / 3, (0 + 0 + 1) / 3],
            [0.0, (10000 + 0 + 0) / 3],
        ]
    )
    result = error_map(original, output)
    assert result.dtype == np.float64
    assert result.shape == (2, 2)
    np.testing.assert_allclose(result, expected)


def test_hand_example_leakage_metrics():
    original, output, mask = _hand_example()
    row = leakage_metrics(original, output, mask)
    assert tuple(row) == LEAKAGE_NAMES
    assert row["mse_outside"] == pytest.approx(19 / 9)
    assert row["psnr_outside"] == pytest.approx(10 * math.log10(255**2 * 9 / 19))
    assert row["mae_outside"] == pytest.approx(7 / 9)
    assert row["max_abs_outside"] == 3.0
    assert row["changed_frac"] == pytest.approx(1 / 3)
    assert row["mse_inside"] == pytest.approx(10000 / 3)
    assert row["n_outside"] == 3
    assert isinstance(row["n_outside"], int)
    assert leakage_metrics(original, output, mask, threshold=0)["changed_frac"] == pytest.approx(2 / 3)


def test_changed_fraction_any_channel_strictly_greater():
    # 4 outside pixels (no mask); a change of exactly the threshold does not count.
    original = np.zeros((1, 4, 3), np.uint8)
    output = original.copy()
    output[0, 0] = (2, 2, 2)  # exactly 2 in every channel: unchanged at threshold 2
    output[0, 1] = (0, 0, 3)  # 3 > 2 in the blue channel only: changed
    output[0, 2] = (3, 3, 3)  # changed in all channels: counted once
    mask = np.zeros((1, 4), bool)
    assert changed_fraction(original, output, mask) == pytest.approx(2 / 4)
    assert changed_fraction(original, output, mask, threshold=1) == pytest.approx(3 / 4)
    assert changed_fraction(original, output, mask, threshold=2.5) == pytest.approx(2 / 4)
    # a decrease counts like an increase
    assert changed_fraction(output, original, mask) == pytest.approx(2 / 4)


# -- second formula on seeded random arrays ----------------------------------------------------


@pytest.fixture(params=[0, 1, 2])
def random_case(request):
    rng = np.random.default_rng(request.param)
    shape = (17, 23, 3)
    original = rng.integers(0, 256, shape, dtype=np.uint8)
    # mostly small changes, a few large ones (both signs), so thresholds and wrap-around matter
    noise = rng.integers(-4, 5, shape)
    noise[rng.random(shape) < 0.05] = 180
    output = np.clip(original.astype(int) + noise, 0, 255).astype(np.uint8)
    mask = rng.random(shape[:2]) < 0.3
    return original, output, mask


def _outside_loops(original, output, mask, threshold=2):
    """The metrics written as plain Python loops, element by element."""
    squares, absolutes, changed, n_pixels = [], [], 0, 0
    for i in range(mask.shape[0]):
        for j in range(mask.shape[1]):
            if mask[i, j]:
                continue
            n_pixels += 1
            pixel_changed = False
            for c in range(3):
                d = int(output[i, j, c]) - int(original[i, j, c])
                squares.append(d * d)
                absolutes.append(abs(d))
                pixel_changed = pixel_changed or abs(d) > threshold
            changed += pixel_changed
    return {
        "mse": sum(squares) / len(squares),
        "mae": sum(absolutes) / len(absolutes),
        "max": max(absolutes),
        "changed": changed / n_pixels,
        "n": n_pixels,
    }


def test_random_against_skimage_and_loops(random_case):
    original, output, mask = random_case
    outside = ~mask
    expected_mse = mean_squared_error(original[outside].astype(float), output[outside].astype(float))
    expected_psnr = peak_signal_noise_ratio(original[outside], output[outside], data_range=255)
    loops = _outside_loops(original, output, mask)

    assert expected_mse == pytest.approx(loops["mse"])
    assert mse_outside(original, output, mask) == pytest.approx(expected_mse, rel=1e-12)
    assert psnr_outside(original, output, mask) == pytest.approx(expected_psnr, rel=1e-12)
    assert mae_outside(original, output, mask) == pytest.approx(loops["mae"], rel=1e-12)
    assert max_abs_outside(original, output, mask) == loops["max"]
    assert changed_fraction(original, output, mask) == pytest.approx(loops["changed"], rel=1e-12)
    for threshold in (0, 1, 3, 100):
        assert changed_fraction(original, output, mask, threshold=threshold) == pytest.approx(
            _outside_loops(original, output, mask, threshold)["changed"], rel=1e-12
        )

    inside = mask
    expected_inside = mean_squared_error(original[inside].astype(float), output[inside].astype(float))
    assert mse_inside(original, output, mask) == pytest.approx(expected_inside, rel=1e-12)

    expected_map = np.zeros(mask.shape)
    for i in range(mask.shape[0]):
        for j in range(mask.shape[1]):
            expected_map[i, j] = sum((int(output[i, j, c]) - int(original[i, j, c])) ** 2 for c in range(3)) / 3
    np.testing.assert_allclose(error_map(original, output), expected_map, rtol=1e-12)

    row = leakage_metrics(original, output, mask)
    assert row["n_outside"] == loops["n"] == int(outside.sum())
    assert row["mse_outside"] == pytest.approx(expected_mse, rel=1e-12)
    assert row["psnr_outside"] == pytest.approx(expected_psnr, rel=1e-12)
    assert row["mse_inside"] == pytest.approx(expected_inside, rel=1e-12)


def test_leakage_metrics_equals_the_individual_functions(random_case):
    original, output, mask = random_case
    row = leakage_metrics(original, output, mask, threshold=3)
    assert list(row) == list(LEAKAGE_NAMES)
    assert row["mse_outside"] == mse_outside(original, output, mask)
    assert row["psnr_outside"] == psnr_outside(original, output, mask)
    assert row["mae_outside"] == mae_outside(original, output, mask)
    assert row["max_abs_outside"] == max_abs_outside(original, output, mask)
    assert row["changed_frac"] == changed_fraction(original, output, mask, threshold=3)
    assert row["mse_inside"] == mse_inside(original, output, mask)
    assert row["n_outside"] == int((~mask).sum())


def test_metric_names_are_the_documented_ones():
    assert METRIC_NAMES == LEAKAGE_NAMES + VISIBLE_NAMES + EXCESS_NAMES
    assert VISIBLE_NAMES == ("color_shift_outside", "color_shift_r", "color_shift_g", "color_shift_b",
                             "ssim_outside", "detail_loss_outside", "seam")
    assert EXCESS_NAMES == ("mse_floor", "mse_excess")
    assert LEAKAGE_NAMES == (
        "mse_outside",
        "psnr_outside",
        "mae_outside",
        "max_abs_outside",
        "changed_frac",
        "mse_inside",
        "n_outside",
    )


# -- the uint8 wrap-around of the original study must be impossible ----------------------------


@pytest.mark.parametrize(("a", "b"), [(0, 200), (200, 0), (255, 0), (0, 255), (100, 116)])
def test_large_differences_are_not_wrapped(a, b):
    original = np.full((3, 4, 3), a, np.uint8)
    output = np.full((3, 4, 3), b, np.uint8)
    mask = np.zeros((3, 4), bool)
    mask[0, 0] = True
    true_square = float((a - b) ** 2)  # Python ints: no wrap
    assert mse_outside(original, output, mask) == true_square
    assert mae_outside(original, output, mask) == abs(a - b)
    assert max_abs_outside(original, output, mask) == abs(a - b)
    assert mse_inside(original, output, mask) == true_square
    np.testing.assert_array_equal(error_map(original, output), np.full((3, 4), true_square))
    assert leakage_metrics(original, output, mask)["mse_outside"] == true_square
    assert psnr_outside(original, output, mask) == pytest.approx(10 * math.log10(255**2 / true_square))
    # The thesis' formula on uint8 arrays gives a different (wrong) number: the test is sensitive.
    naive = float(np.mean((output[~mask] - original[~mask]) ** 2))
    assert naive != true_square
    assert naive < 256  # uint8 squares cannot exceed 255


def test_naive_uint8_formula_would_fail_on_the_hand_example():
    # diff 0 - 200: uint8 gives (56)**2 mod 256 = 3136 mod 256 = 64, the truth is 40000
    a = np.array([0], np.uint8)
    b = np.array([200], np.uint8)
    assert int(((a - b) ** 2)[0]) == 64
    assert mse_outside(
        np.zeros((1, 2, 3), np.uint8), np.full((1, 2, 3), 200, np.uint8), np.array([[True, False]])
    ) == 40000.0


# -- input types and scales ----------------------------------------------------------------------


def test_uint8_and_float_inputs_agree(random_case):
    original, output, mask = random_case
    as_uint8 = leakage_metrics(original, output, mask)
    as_float = leakage_metrics(original.astype(np.float64), output.astype(np.float64), mask)
    as_float32 = leakage_metrics(original.astype(np.float32), output.astype(np.float32), mask)
    as_int = leakage_metrics(original.astype(np.int16), output.astype(np.int64), mask)
    assert as_float == as_uint8
    assert as_float32 == as_uint8
    assert as_int == as_uint8
    np.testing.assert_array_equal(error_map(original.astype(float), output.astype(float)), error_map(original, output))


def test_unit_range_floats_report_on_the_255_scale(random_case):
    original, output, mask = random_case
    unit_original, unit_output = original / 255.0, output / 255.0
    as_uint8 = leakage_metrics(original, output, mask)
    as_unit = leakage_metrics(unit_original, unit_output, mask, data_range=1.0)
    assert set(as_unit) == set(as_uint8)
    for name in LEAKAGE_NAMES:
        assert as_unit[name] == pytest.approx(as_uint8[name], rel=1e-9), name
    assert mse_outside(unit_original, unit_output, mask, data_range=1.0) == pytest.approx(
        mse_outside(original, output, mask), rel=1e-9
    )
    assert mse_outside(original, output, mask) > 1  # not on the [0, 1] scale
    for fn in OUTSIDE_METRICS:
        assert fn(unit_original, unit_output, mask, data_range=1.0) == pytest.approx(
            fn(original, output, mask), rel=1e-9
        ), fn.__name__
    assert mse_inside(unit_original, unit_output, mask, data_range=1.0) == pytest.approx(
        mse_inside(original, output, mask), rel=1e-9
    )
    np.testing.assert_allclose(
        error_map(unit_original, unit_output, data_range=1.0), error_map(original, output), rtol=1e-9
    )
    # the same arrays with the wrong data_range give a 255**2 times smaller MSE: the keyword matters
    assert mse_outside(unit_original, unit_output, mask) == pytest.approx(
        mse_outside(original, output, mask) / 255**2, rel=1e-9
    )


def test_other_data_ranges_scale_to_255():
    # 16-bit data: a change of 257 levels out of 65535 is one level on the 0-255 scale
    original = np.zeros((2, 2, 3), np.uint16)
    output = np.full((2, 2, 3), 257, np.uint16)
    mask = np.zeros((2, 2), bool)
    assert mse_outside(original, output, mask, data_range=65535) == pytest.approx(1.0)
    assert max_abs_outside(original, output, mask, data_range=65535.0) == pytest.approx(1.0)


def test_per_element_not_per_pixel():
    # one channel of one pixel changes by 30 in a 2x3 image with no mask: 6 pixels, 18 elements
    original = np.full((2, 3, 3), 50, np.uint8)
    output = original.copy()
    output[1, 2, 1] = 80
    mask = np.zeros((2, 3), bool)
    assert mse_outside(original, output, mask) == pytest.approx(900 / 18)  # not 900 / 6
    assert mae_outside(original, output, mask) == pytest.approx(30 / 18)
    assert changed_fraction(original, output, mask) == pytest.approx(1 / 6)  # per pixel share
    assert error_map(original, output)[1, 2] == pytest.approx(900 / 3)
    assert leakage_metrics(original, output, mask)["n_outside"] == 6


def test_psnr_is_infinite_for_unchanged_outside():
    rng = np.random.default_rng(5)
    original = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    output = original.copy()
    mask = np.zeros((6, 7), bool)
    mask[2:4, 2:5] = True
    output[mask] = 255 - output[mask]  # only the inside changes
    assert psnr_outside(original, output, mask) == math.inf
    row = leakage_metrics(original, output, mask)
    assert row["psnr_outside"] == math.inf
    assert row["mse_outside"] == 0.0
    assert row["mae_outside"] == 0.0
    assert row["max_abs_outside"] == 0.0
    assert row["changed_frac"] == 0.0
    assert row["mse_inside"] > 0
    # and one level of change outside makes it finite: 10 log10(255**2 / (1/len))
    output[0, 0, 0] = original[0, 0, 0] ^ 1
    n_elements = 3 * int((~mask).sum())
    assert psnr_outside(original, output, mask) == pytest.approx(10 * math.log10(255**2 * n_elements))


def test_leakage_metrics_empty_mask_and_n_outside():
    rng = np.random.default_rng(7)
    original = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    output = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    empty = np.zeros((5, 6), bool)
    row = leakage_metrics(original, output, empty)
    assert math.isnan(row["mse_inside"])
    assert row["n_outside"] == 30
    assert row["mse_outside"] == pytest.approx(mean_squared_error(original.astype(float), output.astype(float)))
    one = empty.copy()
    one[4, 5] = True
    assert leakage_metrics(original, output, one)["n_outside"] == 29


def test_inputs_are_not_modified(random_case):
    original, output, mask = random_case
    copies = original.copy(), output.copy(), mask.copy()
    leakage_metrics(original, output, mask)
    error_map(original, output)
    edge_profile(original, output, np.where(mask, 0.0, 1.0))
    for before, after in zip(copies, (original, output, mask)):
        np.testing.assert_array_equal(before, after)


# -- edge_profile ----------------------------------------------------------------------------------


def test_edge_profile_hand_example():
    # a 1 x 6 strip at distances 0 (inside), 1, 1.5, 2, 200, 600. Only channel 0 changes, by
    # (200, 3, 6, 9, 3, 30), so the per-pixel errors (mean over 3 channels) are
    # (40000/3, 9/3, 36/3, 81/3, 9/3, 900/3) = (inside, 3, 12, 27, 3, 300).
    original = np.zeros((1, 6, 3), np.uint8)
    output = original.copy()
    output[0, :, 0] = (200, 3, 6, 9, 3, 30)
    distance = np.array([[0.0, 1.0, 1.5, 2.0, 200.0, 600.0]])
    profile = edge_profile(original, output, distance, edges=(1, 2, 4, 100))
    assert profile == {
        "start": [1.0, 2.0, 100.0],  # bin [4, 100) holds no pixel: left out
        "stop": [2.0, 4.0, None],  # the last bin is open-ended
        # [1,2): distances 1 and 1.5 -> (3 + 12) / 2; [2,4): distance 2 -> 27;
        # [100, inf): distances 200 and 600 -> (3 + 300) / 2
        "mse": [7.5, 27.0, 151.5],
        "count": [2, 1, 2],
    }
    profile = edge_profile(original, output, distance, edges=(1, 4, 300))
    assert profile == {
        "start": [1.0, 4.0, 300.0],
        "stop": [4.0, 300.0, None],
        "mse": [pytest.approx((3 + 12 + 27) / 3), 3.0, 300.0],
        "count": [3, 1, 1],
    }


def test_edge_profile_against_loops():
    from harness.masks import disc_mask, edge_distance

    rng = np.random.default_rng(11)
    original = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    output = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    mask = disc_mask(40, 56, 0.5)
    distance = edge_distance(mask)
    profile = edge_profile(original, output, distance)
    errors = ((output.astype(float) - original.astype(float)) ** 2).mean(axis=2)
    bounds = list(EDGE_BINS) + [math.inf]
    expected = {"start": [], "stop": [], "mse": [], "count": []}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        chosen = [errors[i, j] for i in range(40) for j in range(56) if not mask[i, j] and lo <= distance[i, j] < hi]
        if chosen:
            expected["start"].append(float(lo))
            expected["stop"].append(None if hi == math.inf else float(hi))
            expected["mse"].append(sum(chosen) / len(chosen))
            expected["count"].append(len(chosen))
    assert profile["start"] == expected["start"]
    assert profile["stop"] == expected["stop"]
    assert profile["count"] == expected["count"]
    assert profile["mse"] == pytest.approx(expected["mse"], rel=1e-12)
    # every outside pixel is in exactly one bin; the count-weighted mean is the outside MSE
    assert sum(profile["count"]) == int((~mask).sum())
    weighted = sum(m * c for m, c in zip(profile["mse"], profile["count"])) / sum(profile["count"])
    assert weighted == pytest.approx(mse_outside(original, output, mask), rel=1e-12)


def test_edge_profile_data_range():
    rng = np.random.default_rng(3)
    original = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    output = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    distance = np.tile(np.arange(8.0), (8, 1))
    on_255 = edge_profile(original, output, distance, edges=(1, 3, 5))
    on_unit = edge_profile(original / 255.0, output / 255.0, distance, edges=(1, 3, 5), data_range=1.0)
    assert on_unit["count"] == on_255["count"] == [16, 16, 24]
    assert on_unit["mse"] == pytest.approx(on_255["mse"], rel=1e-9)


# -- error paths -----------------------------------------------------------------------------------


def _ok():
    original = np.zeros((4, 5, 3), np.uint8)
    output = np.ones((4, 5, 3), np.uint8)
    mask = np.zeros((4, 5), bool)
    mask[1, 1] = True
    return original, output, mask


ALL_MASKED_FUNCTIONS = OUTSIDE_METRICS + (mse_inside, leakage_metrics)


@pytest.mark.parametrize("fn", OUTSIDE_METRICS + (leakage_metrics,), ids=lambda f: f.__name__)
def test_no_pixel_outside(fn):
    original, output, _ = _ok()
    with pytest.raises(ValueError, match="no pixel outside the mask"):
        fn(original, output, np.ones((4, 5), bool))


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
def test_shapes_disagree(fn):
    original, output, mask = _ok()
    with pytest.raises(ValueError, match=r"shapes differ: \(4, 5, 3\) vs \(4, 6, 3\)"):
        fn(original, np.zeros((4, 6, 3), np.uint8), mask)


def test_error_map_shapes_disagree():
    original, _, _ = _ok()
    with pytest.raises(ValueError, match="shapes differ"):
        error_map(original, np.zeros((5, 4, 3), np.uint8))


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad_mask", [np.zeros((4, 5), int), np.zeros((4, 5), np.uint8), np.zeros((4, 5), float)])
def test_mask_not_boolean(fn, bad_mask):
    original, output, _ = _ok()
    with pytest.raises(ValueError, match=f"mask must be a boolean.*got {bad_mask.dtype}"):
        fn(original, output, bad_mask)


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
def test_mask_given_as_list(fn):
    original, output, _ = _ok()
    with pytest.raises(ValueError, match="mask must be a boolean numpy array"):
        fn(original, output, [[False] * 5] * 4)


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(5, 4), (4, 5, 3), (4, 6)])
def test_mask_wrong_shape(fn, shape):
    original, output, _ = _ok()
    mask = np.zeros(shape, bool)
    with pytest.raises(ValueError, match=r"mask shape .* does not match the image's height x width \(4, 5\)"):
        fn(original, output, mask)


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 4), (4, 5, 1), (1, 4, 5, 3)])
def test_not_rgb(fn, shape):
    _, _, mask = _ok()
    bad = np.zeros(shape, np.uint8)
    good = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(ValueError, match=r"original must be an HxWx3 RGB array, got shape"):
        fn(bad, bad, mask)
    with pytest.raises(ValueError, match=r"output must be an HxWx3 RGB array, got shape"):
        fn(good, bad, mask)


def test_error_map_not_rgb():
    with pytest.raises(ValueError, match="HxWx3 RGB array"):
        error_map(np.zeros((4, 5, 4)), np.zeros((4, 5, 4)))


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
def test_not_an_array_or_not_numeric(fn):
    original, output, mask = _ok()
    with pytest.raises(ValueError, match="output must be a numpy array, got list"):
        fn(original, output.tolist(), mask)
    with pytest.raises(ValueError, match="must hold integers or floats, got dtype bool"):
        fn(original, output.astype(bool), mask)


@pytest.mark.parametrize("fn", ALL_MASKED_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("data_range", [0, -1, -255.0, math.inf, math.nan, "255", None, True, np.float64(-1.0)])
def test_bad_data_range(fn, data_range):
    original, output, mask = _ok()
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        fn(original, output, mask, data_range=data_range)


def test_bad_data_range_error_map_and_edge_profile():
    original, output, _ = _ok()
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        error_map(original, output, data_range=0)
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        edge_profile(original, output, np.ones((4, 5)), data_range=-1)


def test_numpy_scalar_data_range_is_accepted():
    original, output, mask = _ok()
    expected = mse_outside(original / 255.0, output / 255.0, mask, data_range=1.0)
    assert mse_outside(original / 255.0, output / 255.0, mask, data_range=np.float32(1.0)) == expected
    assert mse_outside(original, output, mask, data_range=np.int64(255)) == mse_outside(original, output, mask)
    # a float32 data_range is used in float64: 0.7 as float32 is 0.699999988..., not rounded again
    scaled = mse_outside(original * 0.7 / 255, output * 0.7 / 255, mask, data_range=np.float32(0.7))
    assert scaled == pytest.approx(mse_outside(original, output, mask) * (0.7 / float(np.float32(0.7))) ** 2, rel=1e-12)


def test_mse_inside_empty_mask():
    original, output, _ = _ok()
    with pytest.raises(ValueError, match="mask is empty: there is no pixel inside the mask"):
        mse_inside(original, output, np.zeros((4, 5), bool))


@pytest.mark.parametrize("shape", [(5, 4), (4, 5, 3), (4,)])
def test_edge_profile_wrong_distance_shape(shape):
    original, output, _ = _ok()
    with pytest.raises(ValueError, match=r"distance shape .* does not match the image's \(4, 5\)"):
        edge_profile(original, output, np.ones(shape))


def test_public_names():
    assert set(metrics.__all__) >= {
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
    }
