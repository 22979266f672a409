"""Tests of harness.masks.shapes: disc geometry (also the study's floored radius), area-driven discs
and boxes, edge distances, and their error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.masks import AREA_TOLERANCE, box_mask, disc_for_area, disc_mask, disc_radius_px, edge_distance, mask_to_image

S2, S5, S8, S10, S13 = (math.sqrt(v) for v in (2, 5, 8, 10, 13))


# -- disc_mask -------------------------------------------------------------------------------------


def test_disc_radius_is_a_fraction_of_half_the_shorter_side():
    assert disc_radius_px(1000, 1500, 0.8) == 400.0  # 0.8 * 1000 / 2
    assert disc_radius_px(1500, 1000, 0.8) == 400.0
    assert disc_radius_px(384, 512, 0.5) == 96.0  # 0.5 * 384 / 2
    assert disc_radius_px(7, 9, 1.0) == 3.5


@pytest.mark.parametrize("radius_frac", [0.2, 0.35, 0.5, 0.8, 1.0])
@pytest.mark.parametrize(("height", "width"), [(1000, 1500), (1500, 1000)])
def test_disc_area_close_to_pi_r_squared(height, width, radius_frac):
    mask = disc_mask(height, width, radius_frac)
    r = radius_frac * min(height, width) / 2
    assert abs(int(mask.sum()) - math.pi * r**2) <= 0.01 * math.pi * r**2


def test_disc_area_grows_with_radius():
    areas = [int(disc_mask(200, 300, f).sum()) for f in np.linspace(0.2, 0.8, 50)]
    assert all(a < b for a, b in zip(areas, areas[1:]))


@pytest.mark.parametrize(("height", "width"), [(1000, 1500), (64, 64), (63, 64), (64, 63), (31, 47), (5, 5), (6, 9)])
@pytest.mark.parametrize("radius_frac", [0.3, 0.8, 1.0])
def test_disc_is_centred(height, width, radius_frac):
    mask = disc_mask(height, width, radius_frac)
    assert mask.shape == (height, width)
    np.testing.assert_array_equal(mask, mask[::-1, :])
    np.testing.assert_array_equal(mask, mask[:, ::-1])
    rows, cols = np.nonzero(mask)
    assert rows.mean() == pytest.approx((height - 1) / 2)
    assert cols.mean() == pytest.approx((width - 1) / 2)
    if height == width:
        np.testing.assert_array_equal(mask, mask.T)


def test_disc_has_a_hard_edge():
    mask = disc_mask(100, 150, 0.6)
    assert mask.dtype == np.bool_
    assert set(np.unique(mask).tolist()) == {False, True}


def test_disc_hand_example():
    # 5x5, radius 0.5 * 5 / 2 = 1.25 around the centre (2, 2): squared distances 0 and 1 are
    # <= 1.5625, the diagonals (2) are not.
    expected = np.array(
        [
            [0, 0, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(disc_mask(5, 5, 0.5), expected)
    # radius 0.6 * 5 / 2 = 1.5: diagonals (squared distance 2 <= 2.25) join, (0, 2) (4) does not
    expected[1:4, 1:4] = True
    np.testing.assert_array_equal(disc_mask(5, 5, 0.6), expected)


def test_disc_includes_pixels_exactly_on_the_circle():
    # 5x5, radius 0.4 * 5 / 2 = 1.0: the 4-neighbours of the centre are at distance exactly 1.
    expected = np.zeros((5, 5), bool)
    expected[2, 1:4] = True
    expected[1:4, 2] = True
    np.testing.assert_array_equal(disc_mask(5, 5, 0.4), expected)
    # radius 0.8 * 5 / 2 = 2.0: (0, 2) at distance 2 is in, (0, 1) at sqrt(5) is out.
    mask = disc_mask(5, 5, 0.8)
    assert mask[0, 2] and mask[2, 0] and mask[4, 2] and mask[2, 4]
    assert not mask[0, 1] and not mask[1, 0]
    assert int(mask.sum()) == 13  # 1 + 4 (distance 1) + 4 (sqrt 2) + 4 (distance 2)


def test_disc_hand_example_even_size():
    # 4x4, centre (1.5, 1.5), radius 0.5 * 4 / 2 = 1: the four centre pixels are at squared
    # distance 0.5, the next ones at 2.5 (> 1).
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(disc_mask(4, 4, 0.5), expected)


def test_full_radius_touches_the_shorter_sides_only():
    # 9x15 with radius 1.0: r = 4.5, centre (4, 7); (0, 7) and (8, 7) are at distance 4.
    mask = disc_mask(9, 15, 1.0)
    assert mask[0, 7] and mask[8, 7]
    assert not mask[:, 0].any() and not mask[:, -1].any()
    assert mask[0, 6] and mask[0, 5]  # sqrt(16 + 1) = 4.12 and sqrt(16 + 4) = 4.47 are <= 4.5
    assert not mask[0, 4]  # sqrt(16 + 9) = 5 > 4.5


@pytest.mark.parametrize("radius_frac", [0.0, -0.1, 1.0001, 2.0, math.nan])
def test_bad_radius(radius_frac):
    with pytest.raises(ValueError, match="radius_frac must be in \\(0, 1\\]"):
        disc_mask(10, 10, radius_frac)


@pytest.mark.parametrize(("height", "width"), [(0, 10), (10, 0), (0, 0), (-5, 10)])
def test_bad_size(height, width):
    with pytest.raises(ValueError, match=f"mask size must be positive, got {height}x{width}"):
        disc_mask(height, width, 0.5)


def test_mask_to_image():
    mask = np.array([[True, False], [False, True]])
    image = mask_to_image(mask)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, [[255, 0], [0, 255]])


# -- edge_distance ---------------------------------------------------------------------------------


def test_edge_distance_hand_example():
    mask = np.zeros((4, 5), bool)
    mask[1, 1] = True
    # Euclidean distance to (1, 1): sqrt(di**2 + dj**2)
    expected = np.array(
        [
            [S2, 1.0, S2, S5, S10],
            [1.0, 0.0, 1.0, 2.0, 3.0],
            [S2, 1.0, S2, S5, S10],
            [S5, 2.0, S5, S8, S13],
        ]
    )
    result = edge_distance(mask)
    assert result.shape == (4, 5)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


def test_edge_distance_nearest_of_several_pixels():
    # masked column 0 and pixel (0, 4) of a 3x5 image: each outside pixel takes the nearer one
    mask = np.zeros((3, 5), bool)
    mask[:, 0] = True
    mask[0, 4] = True
    expected = np.array(
        [
            [0.0, 1.0, 2.0, 1.0, 0.0],
            [0.0, 1.0, 2.0, S2, 1.0],
            [0.0, 1.0, 2.0, S5, 2.0],
        ]
    )
    np.testing.assert_allclose(edge_distance(mask), expected, rtol=0, atol=1e-12)


def test_edge_distance_zero_inside_one_next_to_the_disc():
    mask = disc_mask(40, 60, 0.5)
    distance = edge_distance(mask)
    assert (distance[mask] == 0).all()
    assert (distance[~mask] >= 1).all()
    # an outside pixel with a 4-neighbour inside the mask is at distance exactly 1
    neighbour = np.zeros_like(mask)
    neighbour[1:] |= mask[:-1]
    neighbour[:-1] |= mask[1:]
    neighbour[:, 1:] |= mask[:, :-1]
    neighbour[:, :-1] |= mask[:, 1:]
    touching = neighbour & ~mask
    assert touching.any()
    assert (distance[touching] == 1).all()


def test_edge_distance_against_brute_force():
    rng = np.random.default_rng(0)
    mask = rng.random((12, 17)) < 0.05
    mask[3, 4] = True
    inside = np.argwhere(mask)
    distance = edge_distance(mask)
    for i in range(12):
        for j in range(17):
            nearest = min(math.hypot(i - a, j - b) for a, b in inside)
            assert distance[i, j] == pytest.approx(nearest, abs=1e-12)


def test_edge_distance_does_not_modify_the_mask():
    mask = disc_mask(10, 10, 0.5)
    before = mask.copy()
    edge_distance(mask)
    np.testing.assert_array_equal(mask, before)


def test_edge_distance_empty_mask():
    with pytest.raises(ValueError, match="mask is empty"):
        edge_distance(np.zeros((4, 5), bool))


@pytest.mark.parametrize(
    "mask",
    [np.zeros((4, 5), int) + 1, np.ones((4, 5), np.uint8), np.ones((4, 5), float)],
    ids=["int", "uint8", "float"],
)
def test_edge_distance_not_boolean(mask):
    with pytest.raises(ValueError, match=f"mask must be a 2-D boolean array, got {mask.dtype}"):
        edge_distance(mask)


def test_edge_distance_not_2d_or_not_array():
    with pytest.raises(ValueError, match="mask must be a 2-D boolean array, got bool"):
        edge_distance(np.ones((4, 5, 3), bool))
    with pytest.raises(ValueError, match="mask must be a 2-D boolean array, got list"):
        edge_distance([[True, False]])


# -- the study's floored radius, area-driven discs and boxes -----------------------------------------


def test_floor_rounds_the_radius_down_to_whole_pixels():
    assert disc_radius_px(85, 128, 0.8) == 34.0 and disc_radius_px(85, 128, 0.8, floor=True) == 34.0
    assert disc_radius_px(416, 640, 0.37) == pytest.approx(76.96)
    assert disc_radius_px(416, 640, 0.37, floor=True) == 76.0
    # a floored disc is the disc of the whole-pixel radius: compare with a radius fraction giving 76 exactly
    np.testing.assert_array_equal(disc_mask(416, 640, 0.37, floor=True), disc_mask(416, 640, 76 / 208))
    assert disc_mask(416, 640, 0.37, floor=True).sum() < disc_mask(416, 640, 0.37).sum()


@pytest.mark.parametrize(("height", "width"), [(64, 64), (80, 128), (416, 640), (640, 416)])
@pytest.mark.parametrize("area", [0.05, 0.1, 0.2, 0.3, 0.4])
def test_disc_and_box_reach_the_area_asked_for(height, width, area):
    for mask in (disc_for_area(height, width, area), box_mask(height, width, area)):
        assert mask.shape == (height, width) and mask.dtype == np.bool_
        assert abs(mask.mean() - area) <= AREA_TOLERANCE
        rows, cols = np.nonzero(mask)
        assert rows.mean() == pytest.approx((height - 1) / 2, abs=0.5)
        assert cols.mean() == pytest.approx((width - 1) / 2, abs=0.5)


def test_box_has_the_image_aspect_ratio():
    mask = box_mask(80, 128, 0.25)
    rows, cols = np.nonzero(mask)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (40, 64)
    assert mask.sum() == 40 * 64


def test_disc_for_area_refuses_what_does_not_fit_and_bad_areas():
    with pytest.raises(ValueError, match=r"does not fit in it \(at most 0.491\)"):
        disc_for_area(80, 128, 0.5)
    for area in (0, 1, -0.1, 1.5, "0.2"):
        with pytest.raises(ValueError, match="area must be a fraction of the image in"):
            box_mask(80, 128, area)
    with pytest.raises(ValueError, match="cannot be drawn within"):
        box_mask(3, 3, 0.3)  # 3 of 9 pixels: 0.333 is more than 0.02 away
