"""Tests of harness.images: the bundled set, reading users' files, and preparation to legal sizes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from PIL import Image

from harness import images
from harness.images import bundled_names, images_in_folder, load_bundled, load_image, prepare, procedural_landscape

PHOTOS = [
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "retina",
    "motorcycle",
    "hubble_deep_field",
]
LANDSCAPES = [
    "alpine-lake",
    "dusk-ridges",
    "green-valley",
    "coastline",
    "meadow",
    "misty-peaks",
    "fjord",
    "highlands",
    "plateau",
    "still-water",
    "foothills",
    "tundra",
]


# -- the bundled set -------------------------------------------------------------------------------


def test_bundled_names_are_stable():
    # Case ids and stored results refer to these names: renaming or reordering one is a break.
    assert bundled_names() == PHOTOS + LANDSCAPES
    assert len(bundled_names()) >= 14
    assert len(set(bundled_names())) == len(bundled_names())
    assert bundled_names() is not bundled_names()  # a fresh list: callers cannot corrupt it


@pytest.mark.parametrize("name", PHOTOS + LANDSCAPES)
def test_every_bundled_image_loads_as_uint8_rgb(name):
    image = load_bundled(name)
    assert type(image) is np.ndarray
    assert image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 256
    assert image.std() > 10  # real content, not a blank


def test_photos_are_scikit_image_photographs():
    # the same pixels as scikit-image's own loaders (a second, independent way to read them)
    import skimage.data as data

    loaders = {
        "astronaut": data.astronaut,
        "chelsea": data.chelsea,
        "coffee": data.coffee,
        "rocket": data.rocket,
        "immunohistochemistry": data.immunohistochemistry,
        "retina": data.retina,
        "motorcycle": lambda: data.stereo_motorcycle()[0],
        "hubble_deep_field": data.hubble_deep_field,
    }
    assert len(loaders) >= 8
    for name, loader in loaders.items():
        np.testing.assert_array_equal(load_bundled(name), loader(), err_msg=name)


def test_unknown_bundled_name():
    with pytest.raises(KeyError, match="no-such-image") as info:
        load_bundled("no-such-image")
    assert "coffee" in str(info.value)  # it lists what exists


def test_landscapes_are_deterministic_and_distinct():
    first = {name: load_bundled(name).tobytes() for name in LANDSCAPES}
    second = {name: load_bundled(name).tobytes() for name in LANDSCAPES}
    assert first == second
    for a, b in itertools.combinations(LANDSCAPES, 2):
        assert first[a] != first[b], (a, b)
    for name in LANDSCAPES:
        assert load_bundled(name).shape == (384, 512, 3)


def test_procedural_landscape_by_seed_and_size():
    a = procedural_landscape(5, size=(64, 96))
    b = procedural_landscape(5, size=(64, 96))
    c = procedural_landscape(6, size=(64, 96))
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    # sky on top is brighter on average in blue than in red, ground at the bottom is not sky-blue
    assert a[:5, :, 2].mean() > a[:5, :, 0].mean()


# -- load_image ------------------------------------------------------------------------------------


def _gradient(height=6, width=10):
    return (np.arange(height * width).reshape(height, width) * 4 % 256).astype(np.uint8)


def test_load_rgb_png_exactly(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 11, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    result = load_image(path)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, rgb)
    np.testing.assert_array_equal(load_image(str(path)), rgb)  # str paths too


def test_load_grayscale_l(tmp_path):
    gray = _gradient()
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    assert Image.open(path).mode == "L"
    result = load_image(path)
    assert result.shape == (6, 10, 3) and result.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(result[..., channel], gray)


def test_load_grayscale_alpha_la(tmp_path):
    gray = _gradient()
    alpha = np.zeros_like(gray)
    alpha[:, :5] = 255
    path = tmp_path / "la.png"
    Image.merge("LA", (Image.fromarray(gray), Image.fromarray(alpha))).save(path)
    assert Image.open(path).mode == "LA"
    result = load_image(path)
    assert result.shape == (6, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(result[..., channel], gray)  # alpha dropped, not applied


def test_load_rgba_drops_alpha(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (5, 9, 4), dtype=np.uint8)
    rgba[0, 0, 3] = 0  # a fully transparent pixel keeps its colour
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    assert Image.open(path).mode == "RGBA"
    result = load_image(path)
    assert result.shape == (5, 9, 3)
    np.testing.assert_array_equal(result, rgba[..., :3])


def _palette_image():
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]  # red, green, blue, (10,20,30)
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [0, 0, 3, 3]], np.uint8)
    img = Image.frombytes("P", (4, 3), indices.tobytes())
    img.putpalette(palette)
    expected = np.array(palette, np.uint8).reshape(-1, 3)[indices]
    return img, expected


def test_load_palette(tmp_path):
    img, expected = _palette_image()
    path = tmp_path / "palette.png"
    img.save(path)
    assert Image.open(path).mode == "P"
    np.testing.assert_array_equal(load_image(path), expected)


@pytest.mark.filterwarnings("error")  # Pillow warns when such images are converted straight to RGB
@pytest.mark.parametrize("transparency", [3, bytes([0, 255, 128, 0])], ids=["index", "alpha-per-entry"])
def test_load_palette_with_transparency(tmp_path, transparency):
    img, expected = _palette_image()
    path = tmp_path / "palette-transparent.png"
    img.save(path, transparency=transparency)
    with Image.open(path) as reopened:
        assert reopened.mode == "P" and reopened.info["transparency"] == transparency
    result = load_image(path)
    assert result.shape == (3, 4, 3)
    np.testing.assert_array_equal(result, expected)  # transparent entries keep their palette colour


def test_load_16_bit_grayscale_scales_not_clips(tmp_path):
    values = np.array([[0, 257, 32768, 65535], [1000, 20000, 50000, 65280]], np.uint16)
    path = tmp_path / "sixteen.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as reopened:
        assert reopened.mode.startswith("I")
    result = load_image(path)
    assert result.shape == (2, 4, 3) and result.dtype == np.uint8
    assert result[0, 3, 0] == 255  # 65535 -> 255
    assert result[0, 2, 0] == 128  # 32768 * 255 / 65535 = 127.5 -> 128
    assert result[0, 1, 0] == 1  # 257 -> 1
    assert result[0, 0, 0] == 0
    expected = np.round(values.astype(float) * 255 / 65535).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(result[..., channel], expected)
    # clipping instead of scaling would have made 1000 and beyond all 255
    assert result[1, 0, 0] == 4


def test_load_16_bit_grayscale_dark_image(tmp_path):
    # a dark 16-bit image (every value <= 255) is still 16-bit: 255 of 65535 is about 1 level
    values = np.array([[0, 100, 255]], np.uint16)
    path = tmp_path / "dark16.png"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(load_image(path)[0, :, 0], [0, 0, 1])


def _exif_jpeg(path, stored, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation tag
    Image.fromarray(stored).save(path, quality=95, exif=exif)


def _two_halves(height=48, width=80):
    """Red left half, blue right half, and a green band on the top rows of the right half."""
    stored = np.zeros((height, width, 3), np.uint8)
    stored[:, : width // 2] = (255, 0, 0)
    stored[:, width // 2 :] = (0, 0, 255)
    stored[: height // 4, width // 2 :] = (0, 255, 0)
    return stored


@pytest.mark.parametrize(
    ("orientation", "turns"),
    [(6, -1), (8, 1), (3, 2)],  # 6: rotate 90 clockwise to display; 8: 90 anticlockwise; 3: 180
)
def test_load_applies_exif_orientation(tmp_path, orientation, turns):
    stored = _two_halves()
    path = tmp_path / f"rotated-{orientation}.jpg"
    _exif_jpeg(path, stored, orientation)
    result = load_image(path)
    expected = np.rot90(stored, k=turns)  # np.rot90 turns anticlockwise for positive k
    assert result.shape == expected.shape
    if orientation in (6, 8):
        assert result.shape == (80, 48, 3)  # transposed
    error = np.abs(result.astype(int) - expected.astype(int)).mean()
    assert error < 8  # JPEG is lossy
    # sensitive: every other orientation of the content is far off
    for wrong in {0, 1, 2, 3} - {turns % 4}:
        other = np.rot90(stored, k=wrong)
        if other.shape == result.shape:
            assert np.abs(result.astype(int) - other.astype(int)).mean() > 50
    if orientation == 6:
        # the stored left (red) half is now the top half
        assert result[:40, :, 0].mean() > 200 and result[:40, :, 2].mean() < 50
        assert result[40:, :, 2].mean() > 100


def test_load_jpeg_without_orientation_is_not_rotated(tmp_path):
    stored = _two_halves()
    path = tmp_path / "plain.jpg"
    Image.fromarray(stored).save(path, quality=95)
    result = load_image(path)
    assert result.shape == stored.shape
    assert np.abs(result.astype(int) - stored.astype(int)).mean() < 8


def test_load_garbage_file(tmp_path):
    path = tmp_path / "garbage.png"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_image(path)


def test_load_truncated_file(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    path = tmp_path / "truncated.png"
    path.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_image(path)


def test_load_missing_file(tmp_path):
    path = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_image(path)
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path)  # a folder is not an image file


# -- images_in_folder ------------------------------------------------------------------------------


def test_images_in_folder_lists_images_sorted(tmp_path):
    pixel = Image.new("RGB", (8, 8))
    for name in ("b.png", "a.jpg", "C.PNG", "d.webp", "e.tiff"):
        pixel.save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a folder with an image suffix is not a file
    (tmp_path / "sub.png" / "inner.png").write_bytes(b"")
    found = images_in_folder(tmp_path)
    assert [p.name for p in found] == sorted(["b.png", "a.jpg", "C.PNG", "d.webp", "e.tiff"])
    assert [p.name for p in found] == ["C.PNG", "a.jpg", "b.png", "d.webp", "e.tiff"]
    assert all(p.parent == tmp_path for p in found)
    assert images_in_folder(str(tmp_path)) == found


def test_images_in_folder_empty_or_missing(tmp_path):
    with pytest.raises(ValueError, match=f"no image files .* in {re.escape(str(tmp_path))}"):
        images_in_folder(tmp_path)
    (tmp_path / "readme.md").write_text("no images here")
    with pytest.raises(ValueError, match="no image files"):
        images_in_folder(tmp_path)
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=f"image folder not found: {re.escape(str(missing))}"):
        images_in_folder(missing)


def test_image_suffixes():
    assert {".png", ".jpg", ".jpeg"} <= set(images.IMAGE_SUFFIXES)
    assert all(s == s.lower() and s.startswith(".") for s in images.IMAGE_SUFFIXES)


# -- prepare ---------------------------------------------------------------------------------------

SHAPES = [
    (480, 640),
    (640, 480),
    (1411, 1411),
    (400, 600),
    (301, 451),
    (513, 257),
    (257, 513),
    (8, 8),
    (9, 13),
    (15, 8),
    (17, 1000),
    (1000, 17),
    (8, 2000),
    (2000, 9),
    (650, 650),
    (651, 650),
    (1, 1),
    (3, 100),
    (7, 7),
]


@pytest.mark.parametrize(("height", "width"), SHAPES)
@pytest.mark.parametrize(("max_side", "multiple"), [(64, 8), (128, 8), (256, 8), (650, 8), (512, 64), (8, 8)])
def test_prepare_legal_sizes(height, width, max_side, multiple):
    rng = np.random.default_rng(height * 10007 + width)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if min(height, width) < multiple:
        # it cannot be made a multiple of `multiple` without upsampling
        with pytest.raises(ValueError, match=f"{height}x{width}"):
            prepare(image, max_side=max_side, multiple=multiple)
        return
    out = prepare(image, max_side=max_side, multiple=multiple)
    out_h, out_w = out.shape[:2]
    assert out.shape[2] == 3 and out.dtype == np.uint8
    assert out_h % multiple == 0 and out_w % multiple == 0
    assert out_h >= multiple and out_w >= multiple
    assert max(out_h, out_w) <= max_side
    assert out_h <= height and out_w <= width  # never upsampled
    # the aspect ratio is kept up to the rounding and the crop to a multiple
    scale = min(1.0, max_side / max(height, width))
    for side, out_side in ((height, out_h), (width, out_w)):
        scaled = round(side * scale)
        if scaled >= multiple:
            assert scaled - multiple < out_side <= scaled
    # what comes out is legal: preparing it again changes nothing
    again = prepare(out, max_side=max_side, multiple=multiple)
    assert again.shape == out.shape and again.tobytes() == out.tobytes()


@pytest.mark.parametrize(("height", "width"), [(64, 128), (256, 256), (8, 8), (200, 48)])
def test_prepare_leaves_a_legal_image_unchanged(height, width):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    before = image.copy()
    out = prepare(image, max_side=256, multiple=8)
    assert out.shape == image.shape
    assert out.tobytes() == before.tobytes()
    np.testing.assert_array_equal(image, before)  # input not modified


def test_prepare_crop_only_is_centred():
    # 20 x 30 fits under max_side 100; to multiples of 8 it becomes 16 x 24, cropping
    # (20 - 16) // 2 = 2 rows on top and (30 - 24) // 2 = 3 columns on the left
    image = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = prepare(image, max_side=100, multiple=8)
    np.testing.assert_array_equal(out, image[2:18, 3:27])


def test_prepare_downscale_example():
    # the docstring's example: 480 x 640 to longest side 256 -> 192 x 256 (both multiples of 8)
    assert prepare(np.zeros((480, 640, 3), np.uint8), max_side=256, multiple=8).shape == (192, 256, 3)
    # a constant colour stays that colour through the Lanczos filter
    out = prepare(np.full((480, 640, 3), (10, 120, 250), np.uint8), max_side=256, multiple=8)
    assert (out == np.array([10, 120, 250], np.uint8)).all()


def test_prepare_downscale_content():
    # a left/right split stays a left/right split after a 4x downscale
    image = np.zeros((400, 800, 3), np.uint8)
    image[:, 400:] = 200
    out = prepare(image, max_side=200, multiple=8)
    assert out.shape == (96, 200, 3)  # 100 x 200, cropped 2 rows top and bottom to 96
    assert (out[:, :95] == 0).all()
    assert (out[:, 105:] == 200).all()


def test_prepare_returns_a_plain_array_that_is_what_is_fed():
    image = np.random.default_rng(3).integers(0, 256, (300, 451, 3), dtype=np.uint8)
    out = prepare(image, max_side=128, multiple=8)
    assert type(out) is np.ndarray
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    # a PIL round trip (how the pipeline receives it) is lossless: the array fed is the array compared
    np.testing.assert_array_equal(np.asarray(Image.fromarray(out)), out)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_side": 256, "multiple": 0}, "multiple"),
        ({"max_side": 4, "multiple": 8}, "max_side"),
        ({"max_side": 0, "multiple": 8}, "max_side"),
        ({"max_side": 256, "multiple": -8}, "multiple"),
    ],
)
def test_prepare_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare(np.zeros((64, 64, 3), np.uint8), **kwargs)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((64, 64), np.uint8), "HxWx3"),
        (np.zeros((64, 64, 4), np.uint8), "HxWx3"),
        (np.zeros((64, 64, 3), np.float64), "must be uint8"),
        (np.zeros((64, 64, 3), np.uint16), "must be uint8"),
        ([[0, 0, 0]], "HxWx3"),
    ],
    ids=["gray", "rgba", "float", "uint16", "list"],
)
def test_prepare_bad_image(image, message):
    with pytest.raises(ValueError, match=message):
        prepare(image, max_side=256, multiple=8)


# -- the study's preparation ---------------------------------------------------------------------------


def _study_size(height: int, width: int, max_side: int = 650) -> tuple[int, int]:
    """The study's sizes, spelled out: scale the longest side to max_side, floor, floor to 32."""
    longest = max(height, width)
    scale = min(1.0, max_side / longest)
    return tuple(int(int(side * scale + 1e-9) / 32) * 32 for side in (height, width))


@pytest.mark.parametrize(("height", "width", "expected"), [(3000, 4000, (480, 640)), (4000, 3000, (640, 480)),
                                                           (500, 741, (416, 640)), (300, 451, (288, 448)),
                                                           (1411, 1411, (640, 640))])
def test_study_sizes(height, width, expected):
    assert _study_size(height, width) == expected
    plan = images.plan_preparation(height, width, max_side=650, multiple=8, resize="study")
    assert plan.size == expected and plan.scaled == expected and plan.box[:2] == (0, 0)


def test_paper_preparation_of_motorcycle_and_a_large_photo_is_the_study_s():
    motorcycle = load_bundled("motorcycle")
    assert motorcycle.shape[:2] == (500, 741)
    prepared = prepare(motorcycle, max_side=650, multiple=8, resize="study")
    # one bicubic resize of the whole picture to 416 x 640: a stretch (aspect 1.538 vs 1.482), no crop
    expected = np.asarray(Image.fromarray(motorcycle).resize((640, 416), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(prepared, expected)
    rng = np.random.default_rng(0)
    large = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    assert prepare(large, max_side=650, multiple=8, resize="study").shape == (480, 640, 3)


def test_study_sides_are_multiples_of_32_and_of_the_vae_factor():
    assert prepare(np.zeros((100, 100, 3), np.uint8), max_side=650, multiple=8, resize="study").shape == (96, 96, 3)
    # a factor of 48 makes the step lcm(32, 48) = 96
    assert images.plan_preparation(500, 741, max_side=650, multiple=48, resize="study").size == (384, 576)
    with pytest.raises(ValueError, match="side shorter than 32 pixels"):
        images.plan_preparation(20, 200, max_side=650, multiple=8, resize="study")
    with pytest.raises(ValueError, match="resize must be one of crop, study, got 'stretch'"):
        images.plan_preparation(200, 200, max_side=650, multiple=8, resize="stretch")


def test_crop_plan_matches_prepare():
    plan = images.plan_preparation(400, 600, max_side=128, multiple=8)
    assert plan.scaled == (85, 128) and plan.box == (2, 0, 80, 128) and plan.size == (80, 128)
    assert prepare(load_bundled("coffee"), max_side=128, multiple=8).shape[:2] == plan.size
