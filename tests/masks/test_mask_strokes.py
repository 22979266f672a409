"""Tests of LaMa-style strokes and of family_mask: areas within the bin asked for, determinism per
seed, thickness ordering, and the error paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from harness.masks import AREA_TOLERANCE, MASK_FAMILIES, STROKE_WIDTHS, family_mask, strokes_mask


@pytest.mark.parametrize("mask_family", MASK_FAMILIES)  # not "family": the root conftest gives that to pipelines
@pytest.mark.parametrize(("height", "width"), [(64, 64), (80, 128), (416, 640)])
@pytest.mark.parametrize("area", [0.05, 0.2, 0.4])
def test_every_family_reaches_the_area_bin(mask_family, height, width, area):
    mask = family_mask(mask_family, height, width, area, seed=3)
    assert mask.shape == (height, width) and mask.dtype == np.bool_
    assert abs(mask.mean() - area) <= AREA_TOLERANCE


@pytest.mark.parametrize("thickness", list(STROKE_WIDTHS))
def test_strokes_are_deterministic_per_seed(thickness):
    first = strokes_mask(80, 128, 0.2, thickness=thickness, seed=7)
    np.testing.assert_array_equal(first, strokes_mask(80, 128, 0.2, thickness=thickness, seed=7))
    assert not np.array_equal(first, strokes_mask(80, 128, 0.2, thickness=thickness, seed=8))


def test_thicker_strokes_are_thicker():
    # the mean distance of a masked pixel to the outside is about a quarter of the brush width
    masks = {t: strokes_mask(160, 256, 0.2, thickness=t, seed=1) for t in STROKE_WIDTHS}
    depth = {t: ndimage.distance_transform_edt(m)[m].mean() for t, m in masks.items()}
    assert depth["thin"] < depth["medium"] < depth["thick"]
    for thickness, (low, high) in STROKE_WIDTHS.items():
        assert low * 160 / 4 - 1 <= depth[thickness] <= high * 160 / 2, thickness


def test_strokes_are_strokes_not_blobs():
    # thin strokes are mostly boundary: many more edge pixels than a disc of the same area
    mask = strokes_mask(160, 256, 0.2, thickness="thin", seed=2)
    edge = mask & ~ndimage.binary_erosion(mask)
    assert edge.sum() > 0.3 * mask.sum()


def test_stroke_and_family_errors():
    with pytest.raises(ValueError, match="unknown stroke thickness 'hairline'"):
        strokes_mask(64, 64, 0.2, thickness="hairline")
    with pytest.raises(ValueError, match="unknown mask family 'star'"):
        family_mask("star", 64, 64, 0.2)
    with pytest.raises(ValueError, match="unknown mask family 'strokes-wide'"):
        family_mask("strokes-wide", 64, 64, 0.2)
    with pytest.raises(ValueError, match="area must be a fraction"):
        strokes_mask(64, 64, 1.0)
    with pytest.raises(ValueError, match="mask size must be positive"):
        strokes_mask(0, 64, 0.2)
