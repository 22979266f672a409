"""Tests of harness.reference: a row from the parts computed once per image and mask equals, exactly,
the row the metric functions compute from scratch; the private steps they share agree with the
libraries and the whole-image computations they stand for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from harness import masks, metrics
from harness.reference import FloorReference, Reference
from harness.texture import TEXTURE_NAMES, texture_profile


@pytest.fixture(scope="module")
def scene():
    """A textured 40 x 56 picture, a round trip a few levels off and three outputs of it."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[:40, :56]
    image = np.clip(np.stack([rows * 4, cols * 3, (rows + cols) * 2], axis=2) + rng.normal(0, 20, (40, 56, 3)), 0, 255)
    image = image.astype(np.uint8)
    floor = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    outputs = [np.clip(floor + rng.normal(0, s, image.shape), 0, 255).astype(np.uint8) for s in (1, 4, 30)]
    return image, floor, outputs


def _uncached(image, output, floor, mask, distance) -> dict:
    """The row as the public functions compute it, in the order harness.measure records it."""
    row = {**metrics.leakage_metrics(image, output, mask), **metrics.visible_metrics(image, output, mask)}
    row["edge_profile"] = metrics.edge_profile(image, output, distance)
    if floor is not None:
        row.update(metrics.excess_metrics(image, output, floor, mask))
        row["excess_profile"] = metrics.excess_profile(image, output, floor, distance)
        texture = texture_profile(image, output, floor, mask)
        row.update({name: texture.pop(name) for name in TEXTURE_NAMES})
        row["texture_profile"] = texture
    return row


def _same(a: dict, b: dict) -> bool:
    """Equal keys in equal order and equal values, nan equal to nan (repr tells 0.1 from 0.1 + 1 ulp)."""
    return list(a) == list(b) and all(repr(a[k]) == repr(b[k]) for k in a)


MASKS = {
    "small disc": lambda h, w: masks.disc_mask(h, w, 0.3),
    "large disc": lambda h, w: masks.disc_mask(h, w, 0.95),
    "box at the border": lambda h, w: np.pad(np.ones((h - 10, 12), bool), ((0, 10), (w - 12, 0))),
    "empty": lambda h, w: np.zeros((h, w), bool),
}


@pytest.mark.parametrize("name", MASKS)
def test_a_cached_row_equals_the_uncached_one_exactly(scene, name):
    image, floor, outputs = scene
    mask = MASKS[name](*image.shape[:2])
    distance = masks.edge_distance(mask) if mask.any() else np.full(mask.shape, 1000.0)  # all in the last bin
    reference = Reference(image, mask, distance)
    with_floor = FloorReference(reference, floor)
    for output in outputs:  # one reference serves every output, none leaves a trace in it
        assert _same(reference.row(output, with_floor), _uncached(image, output, floor, mask, distance))
        assert _same(reference.row(output), _uncached(image, output, None, mask, distance))
    assert math.isnan(reference.row(outputs[0])["seam"]) == (name == "empty")


def test_a_float_reference_on_the_unit_scale_equals_the_uint8_one(scene):
    image, floor, outputs = scene
    mask = masks.disc_mask(*image.shape[:2], 0.5)
    distance = masks.edge_distance(mask)
    eights = Reference(image, mask, distance)
    units = Reference(image / 255.0, mask, distance, data_range=1.0)
    got = units.row(outputs[1] / 255.0, FloorReference(units, floor / 255.0))
    expected = eights.row(outputs[1], FloorReference(eights, floor))
    for key in ("mse_outside", "ssim_outside", "seam", "mse_excess", "texture_rho_excess"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12)


def test_bad_inputs_are_refused_with_the_metric_functions_messages(scene):
    image, floor, outputs = scene
    mask = masks.disc_mask(*image.shape[:2], 0.5)
    distance = masks.edge_distance(mask)
    with pytest.raises(ValueError, match="mask covers every pixel"):
        Reference(image, np.ones(mask.shape, bool), distance)
    with pytest.raises(ValueError, match="distance shape"):
        Reference(image, mask, distance[:-1])
    with pytest.raises(ValueError, match="needs both sides >= 7"):
        Reference(image[:6], mask[:6], distance[:6])
    reference = Reference(image, mask, distance)
    with pytest.raises(ValueError, match="shapes differ"):
        reference.row(outputs[0][:-8])
    with pytest.raises(ValueError, match="shapes differ"):
        FloorReference(reference, floor[:, :-8])
    with pytest.raises(ValueError, match="HxWx3"):
        reference.row(outputs[0][..., 0])


def test_ssim_equals_scikit_image_s_map_exactly(scene):
    image, _, outputs = scene
    mask = masks.disc_mask(*image.shape[:2], 0.6)
    _, ssim_map = structural_similarity(image.astype(float), outputs[2].astype(float), channel_axis=2,
                                        data_range=255.0, full=True)
    chosen = np.zeros(mask.shape, bool)
    chosen[3:-3, 3:-3] = True
    chosen &= ~mask
    assert metrics.ssim_outside(image, outputs[2], mask) == float(np.mean(ssim_map[chosen], dtype=np.float64))


@pytest.mark.parametrize("name", ["small disc", "large disc", "box at the border"])
def test_the_seam_band_s_window_gives_the_whole_image_s_gradients(scene, name):
    image, _, outputs = scene
    mask = MASKS[name](*image.shape[:2])
    band = metrics._seam_band(mask, 3)
    pixels, window = band
    whole = np.zeros(mask.shape, bool)
    whole[window] = pixels
    dilate = lambda m: ndimage.binary_dilation(m, np.hypot(*np.mgrid[-3:4, -3:4]) <= 3)  # noqa: E731
    assert (whole == ((dilate(mask) & ~mask) | (dilate(~mask) & mask))).all()
    for picture in (image, outputs[2]):
        as_float = picture.astype(np.float64)
        assert (metrics._band_gradient(as_float, band) == metrics._gradient_magnitude(as_float)[whole]).all()
