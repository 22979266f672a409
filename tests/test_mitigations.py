"""Tests of harness.mitigations: the pure functions against hand-made examples and loops, and the
Mitigation object's call plan and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.masks import disc_mask
from harness.mitigations import MITIGATIONS, Mitigation, dilate_mask, feather_alpha, paste_back, soft_blend


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(6)
    original = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    output = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    return original, output, disc_mask(20, 30, 0.5)


def test_paste_back_keeps_the_outside_exactly(case):
    original, output, mask = case
    pasted = paste_back(original, output, mask)
    np.testing.assert_array_equal(pasted[~mask], original[~mask])
    np.testing.assert_array_equal(pasted[mask], output[mask])


def test_feather_ramps_down_over_k_pixels_outside():
    mask = np.zeros((1, 7), bool)
    mask[0, 0] = True
    # distances 0..6 from the masked pixel; k = 3 -> 1, 3/4, 2/4, 1/4, 0, 0, 0
    np.testing.assert_allclose(feather_alpha(mask, 3)[0], [1, 0.75, 0.5, 0.25, 0, 0, 0])


def test_soft_blend_against_loops(case):
    original, output, mask = case
    blended = soft_blend(original, output, mask, 2)
    for i in range(20):
        for j in range(30):
            if mask[i, j]:
                distance = 0.0
            else:
                distance = min(math.hypot(i - a, j - b) for a, b in zip(*np.nonzero(mask)))
            alpha = max(0.0, 1 - distance / 3)
            expected = np.rint(alpha * output[i, j].astype(float) + (1 - alpha) * original[i, j])
            np.testing.assert_array_equal(blended[i, j], expected)


def test_dilation_is_every_pixel_within_reach(case):
    _, _, mask = case
    grown = dilate_mask(mask, 3)
    inside = list(zip(*np.nonzero(mask)))
    for i in range(20):
        for j in range(30):
            near = min(math.hypot(i - a, j - b) for a, b in inside) <= 3
            assert grown[i, j] == near


def test_the_call_plan_of_each_mitigation(case):
    original, output, mask = case
    plans = {name: Mitigation(name, {"blend": 2, "crop": 16, "dilate": 8}.get(name)) for name in MITIGATIONS}
    assert [n for n, m in plans.items() if m.shares_plain_call] == ["none", "paste", "blend"]
    assert plans["crop"].call_options() == {"padding_mask_crop": 16}
    assert all(plans[n].call_options() == {} for n in ("none", "paste", "blend", "dilate"))
    np.testing.assert_array_equal(plans["dilate"].call_mask(mask), dilate_mask(mask, 8))
    assert plans["none"].call_mask(mask) is mask
    assert plans["none"].finish(original, output, mask) is output
    np.testing.assert_array_equal(plans["paste"].finish(original, output, mask), paste_back(original, output, mask))
    np.testing.assert_array_equal(plans["blend"].finish(original, output, mask), soft_blend(original, output, mask, 2))


def test_errors(case):
    original, output, mask = case
    with pytest.raises(ValueError, match="unknown mitigation 'inpaint-twice'"):
        Mitigation("inpaint-twice")
    with pytest.raises(ValueError, match="mitigation 'blend' needs a width in pixels >= 1, got None"):
        Mitigation("blend")
    with pytest.raises(ValueError, match="feather must be a whole number of pixels >= 1, got 0"):
        feather_alpha(mask, 0)
    with pytest.raises(ValueError, match="pixels must be a whole number >= 1, got 2.5"):
        dilate_mask(mask, 2.5)
    with pytest.raises(ValueError, match="uint8 arrays of one shape"):
        paste_back(original, output[:, :-1], mask)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        soft_blend(original, output, mask.astype(int), 2)
