"""Tests of the user's masks: pairing by stem, fitting to the prepared image, and every error path."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness.images import plan_preparation, prepare
from harness.masks import MaskError, fit_user_mask, load_user_mask, pair_user_masks


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


def _half(height=60, width=90) -> np.ndarray:
    values = np.zeros((height, width), np.uint8)
    values[:, width // 2 :] = 255
    return values


def test_binary_masks_load_in_every_usual_form(tmp_path):
    values = _half()
    expected = values > 0
    np.testing.assert_array_equal(load_user_mask(_save(tmp_path / "l.png", values)), expected)
    np.testing.assert_array_equal(load_user_mask(_save(tmp_path / "one.png", expected)), expected)
    np.testing.assert_array_equal(load_user_mask(_save(tmp_path / "rgb.png", np.repeat(values[..., None], 3, 2))),
                                  expected)
    np.testing.assert_array_equal(load_user_mask(_save(tmp_path / "unit.png", (values // 255).astype(np.uint8))),
                                  expected)
    rgba = np.dstack([np.repeat(values[..., None], 3, 2), np.full(values.shape, 255, np.uint8)])
    np.testing.assert_array_equal(load_user_mask(_save(tmp_path / "rgba.png", rgba)), expected)


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((20, 30), np.uint8), "is empty (all black): nothing would be inpainted"),
    (np.full((20, 30), 255, np.uint8), "is all white: no pixel outside it is left to measure"),
    (np.tile(np.arange(30, dtype=np.uint8) * 8, (20, 1)), "is not binary: it has 30 grey levels (0, 8, 16, 24, 32, 40, ...)"),
    (np.dstack([_half(20, 30), np.zeros((20, 30), np.uint8), _half(20, 30)]), "is in colour"),
])
def test_bad_masks_are_refused_naming_the_file(tmp_path, array, message):
    path = _save(tmp_path / "bad.png", array)
    with pytest.raises(MaskError, match="mask .*bad.png") as raised:
        load_user_mask(path)
    assert message in str(raised.value)


def test_unreadable_mask(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not an image")
    with pytest.raises(MaskError, match="x.png is not a readable image"):
        load_user_mask(path)


def test_pairing_by_stem(tmp_path):
    masks = tmp_path / "masks"
    for stem in ("holiday", "coffee", "unused"):
        _save(masks / f"{stem}.png", _half())
    pairs = pair_user_masks(masks, {"holiday": "holiday", "coffee": "coffee"})
    assert pairs == {"holiday": str(masks / "holiday.png"), "coffee": str(masks / "coffee.png")}


def test_pairing_errors(tmp_path):
    masks = tmp_path / "masks"
    _save(masks / "a.png", _half())
    with pytest.raises(MaskError, match=r"has no mask for image\(s\) b, c \(a mask pairs with an image by file stem, e.g. b.png\)"):
        pair_user_masks(masks, {"a": "a", "b": "b", "c": "c"})
    with pytest.raises(MaskError, match="is not a folder"):
        pair_user_masks(tmp_path / "nowhere", {"a": "a"})
    (tmp_path / "empty").mkdir()
    with pytest.raises(MaskError, match="holds no mask images"):
        pair_user_masks(tmp_path / "empty", {"a": "a"})
    _save(masks / "a.jpg", _half())
    with pytest.raises(MaskError, match="several masks for one stem: a"):
        pair_user_masks(masks, {"a": "a"})


@pytest.mark.parametrize("resize", ["crop", "study"])
def test_fitting_follows_the_image_preparation(resize):
    # a picture whose right half is bright, and the mask of that half at half resolution
    image = np.zeros((300, 450, 3), np.uint8)
    image[:, 225:] = 255
    plan = plan_preparation(300, 450, max_side=128, multiple=8, resize=resize)
    prepared = prepare(image, max_side=128, multiple=8, resize=resize)
    fitted = fit_user_mask(_half(150, 225) > 0, (300, 450), plan)
    assert fitted.shape == prepared.shape[:2] and fitted.dtype == np.bool_
    # nearest neighbour: the mask's edge and the picture's edge fall on the same column (+-1 for the filter)
    edge = np.argmax(fitted[0])
    assert prepared[0, edge + 1, 0] == 255 and prepared[0, edge - 2, 0] == 0
    assert set(np.unique(fitted)) == {False, True}


def test_fitting_errors():
    plan = plan_preparation(300, 450, max_side=128, multiple=8)
    with pytest.raises(MaskError, match="is 300x300 but its image is 300x450: the aspect ratios differ"):
        fit_user_mask(_half(300, 300) > 0, (300, 450), plan)
    speck = np.zeros((300, 450), bool)
    speck[0, 0] = True  # in the border the crop removes
    with pytest.raises(MaskError, match=r"fitted to the prepared 80x128 image, is empty"):
        fit_user_mask(speck, (300, 450), plan)
