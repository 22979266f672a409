"""Tests of harness.texture: local standard deviation against explicit windows, the texture profile's
bins and correlations against rank correlations computed another way."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from harness.masks import disc_mask
from harness.metrics import error_map
from harness.texture import TEXTURE_NAMES, local_std, texture_profile


def _local_std_loops(image: np.ndarray, window: int) -> np.ndarray:
    grey = image.astype(float).mean(axis=2)
    half = window // 2
    padded = np.pad(grey, half, mode="symmetric")  # scipy's 'reflect'
    out = np.zeros(grey.shape)
    for i in range(grey.shape[0]):
        for j in range(grey.shape[1]):
            out[i, j] = padded[i : i + window, j : j + window].std()
    return out


@pytest.fixture(scope="module")
def picture():
    """Left half flat, right half noisy: texture rises from left to right."""
    rng = np.random.default_rng(12)
    image = np.full((24, 40, 3), 120.0)
    image[:, 20:] += rng.normal(0, 30, (24, 20, 3))
    return np.clip(image, 0, 255).astype(np.uint8), disc_mask(24, 40, 0.4)


@pytest.mark.parametrize("window", [3, 9])
def test_local_std_against_explicit_windows(picture, window):
    image, _ = picture
    np.testing.assert_allclose(local_std(image, window=window), _local_std_loops(image, window), atol=1e-6)


def test_local_std_is_zero_on_a_flat_picture_and_checks_its_window():
    assert (local_std(np.full((12, 12, 3), 77, np.uint8)) == 0).all()
    for window in (1, 2.5, True):
        with pytest.raises(ValueError, match="window must be a whole number"):
            local_std(np.zeros((12, 12, 3), np.uint8), window=window)


def _rho(x, y) -> float:
    return float(spearmanr(x, y).statistic)


def test_profile_bins_and_correlations(picture):
    image, mask = picture
    rng = np.random.default_rng(5)
    texture = local_std(image)
    # the floor errs in proportion to texture; the output adds texture-free noise on top
    floor = np.clip(image + rng.normal(0, 1, image.shape) * (1 + texture[..., None] / 4), 0, 255).astype(np.uint8)
    output = np.clip(floor.astype(float) + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    profile = texture_profile(image, output, floor, mask, bins=4)
    outside = ~mask
    n = int(outside.sum())
    assert profile["count"] == [len(part) for part in np.array_split(np.arange(n), 4)]
    assert profile["low"] == sorted(profile["low"]) and all(lo <= hi for lo, hi in zip(profile["low"], profile["high"]))
    floor_error = error_map(image, floor)[outside]
    excess_error = error_map(image, output)[outside] - floor_error
    assert profile["texture_rho_floor"] == pytest.approx(_rho(texture[outside], floor_error), abs=1e-9)
    assert profile["texture_rho_excess"] == pytest.approx(_rho(texture[outside], excess_error), abs=1e-9)
    assert profile["texture_rho_floor"] > 0.5 > abs(profile["texture_rho_excess"])
    assert profile["floor"][-1] > profile["floor"][0]
    # the bins' count-weighted means give back the outside means
    weighted = sum(f * c for f, c in zip(profile["floor"], profile["count"])) / n
    assert weighted == pytest.approx(floor_error.mean(), rel=1e-9)
    assert set(TEXTURE_NAMES) <= set(profile)


def test_an_output_equal_to_the_floor_has_no_excess_correlation(picture):
    image, mask = picture
    floor = np.clip(image.astype(int) + 3, 0, 255).astype(np.uint8)
    profile = texture_profile(image, floor, floor, mask)
    assert profile["excess"] == [0.0] * 5 and math.isnan(profile["texture_rho_excess"])


def test_profile_errors(picture):
    image, mask = picture
    with pytest.raises(ValueError, match="bins must be a whole number"):
        texture_profile(image, image, image, mask, bins=0)
    tiny = np.zeros((2, 2, 3), np.uint8)
    one = np.array([[True, True], [True, False]])
    with pytest.raises(ValueError, match="1 outside pixels cannot fill 5 texture bins"):
        texture_profile(tiny, tiny, tiny, one)
    with pytest.raises(ValueError, match="shapes differ"):
        texture_profile(image, image, image[:, :-1], mask)
