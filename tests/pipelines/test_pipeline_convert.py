"""Converters between harness arrays and pipeline inputs/outputs."""

from __future__ import annotations

import numpy as np
import pytest

from harness.pipelines import NonFiniteOutputError
from harness.pipelines.convert import check_case, to_pil_image, to_pil_mask, to_uint8


def test_image_round_trips_through_pil_exactly():
    image = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(to_pil_image(image)), image)


def test_mask_is_white_where_true():
    mask = np.zeros((8, 16), bool)
    mask[2:5, 3:9] = True
    pil = to_pil_mask(mask)
    assert pil.mode == "L"
    assert np.array_equal(np.asarray(pil) == 255, mask)
    assert set(np.unique(np.asarray(pil))) == {0, 255}


def test_to_uint8_rounds_instead_of_truncating():
    pixels = np.array([0.0, 0.6 / 255, 0.4 / 255, 1.0, 254.6 / 255, 1.2, -0.1], np.float32).reshape(1, 7, 1)
    assert to_uint8(pixels).ravel().tolist() == [0, 1, 0, 255, 255, 255, 0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_to_uint8_refuses_non_finite_values(bad):
    pixels = np.zeros((2, 2, 3), np.float32)
    pixels[1, 1, 2] = bad
    with pytest.raises(NonFiniteOutputError, match="1 non-finite values of 12"):
        to_uint8(pixels)
    assert issubclass(NonFiniteOutputError, ValueError)


def test_check_case_accepts_a_good_pair_and_names_the_size_otherwise():
    check_case(np.zeros((16, 24, 3), np.uint8), np.zeros((16, 24), bool), 8)
    with pytest.raises(ValueError, match="20x24 is not a multiple of the pipeline's size multiple 8"):
        check_case(np.zeros((20, 24, 3), np.uint8), np.zeros((20, 24), bool), 8)
