"""Images: the bundled set, users' own files, and preparation to pipeline-legal sizes.

Every function returns the harness's one image layout: ``uint8`` array of shape ``(H, W, 3)``.

The bundled set has two halves, both available offline:

* real photographs that ship inside scikit-image's wheel (no download), and
* procedural landscapes made deterministically from a seed (sky gradient, mountain ridges,
  water, grass texture), echoing the landscape photographs of the original study.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "bundled_names",
    "load_bundled",
    "load_image",
    "images_in_folder",
    "ignored_in_folder",
    "prepare",
    "plan_preparation",
    "apply_preparation",
    "Preparation",
    "RESIZE_MODES",
    "IMAGE_SUFFIXES",
]

#: File suffixes that :func:`images_in_folder` considers images: still-image formats PIL reads
#: (of an animated GIF, WebP or APNG the first frame is used).
IMAGE_SUFFIXES = (".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".dib", ".tif", ".tiff",
                  ".gif", ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".qoi")

# name -> file inside skimage/data (all ship in the wheel; none needs pooch).
_PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "immunohistochemistry": "ihc.png",
    "retina": "retina.jpg",
    "motorcycle": "motorcycle_left.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
}

# name -> seed of a procedural landscape; the seed fixes every random choice.
# Twelve of them, so that photographs + landscapes make the study's 20 images.
_LANDSCAPES = {
    "alpine-lake": 11,
    "dusk-ridges": 23,
    "green-valley": 37,
    "coastline": 41,
    "meadow": 53,
    "misty-peaks": 67,
    "fjord": 71,
    "highlands": 79,
    "plateau": 83,
    "still-water": 97,
    "foothills": 101,
    "tundra": 109,
}

_LANDSCAPE_SIZE = (384, 512)  # height, width: landscape orientation like the study's photos


def bundled_names() -> list[str]:
    """Names of the bundled images, photographs first, in a stable order."""
    return list(_PHOTOS) + list(_LANDSCAPES)


def load_bundled(name: str) -> np.ndarray:
    """Load a bundled image by name as ``uint8`` RGB.

    Raises
    ------
    KeyError
        If ``name`` is not one of :func:`bundled_names`.
    """
    if name in _PHOTOS:
        return load_image(_skimage_data_dir() / _PHOTOS[name])
    if name in _LANDSCAPES:
        return procedural_landscape(_LANDSCAPES[name], size=_LANDSCAPE_SIZE)
    raise KeyError(f"unknown bundled image {name!r}; expected one of: {', '.join(bundled_names())}")


def _skimage_data_dir() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``uint8`` RGB (the first frame of an animated one).

    EXIF orientation is applied; grayscale, grayscale+alpha, RGBA, palette, CMYK and 16-bit
    images are converted (alpha is dropped, 16-bit is scaled to 8 bits).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image PIL can read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.seek(0)  # the first frame: PIL opens there, but say so
            img = ImageOps.exif_transpose(img)
            return _to_rgb_uint8(img)
    except UnidentifiedImageError as exc:
        raise ValueError(f"{path} is not a readable image file ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - a damaged file fails deep in a PIL plugin (struct.error, zlib.error, ...)
        raise ValueError(f"{path} is not a readable image file ({type(exc).__name__}: {exc})") from exc


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grayscale: scale the full range to 8 bits, not clip it.
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(np.round(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(np.round(arr), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "RGB":
        return np.array(img, dtype=np.uint8)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return np.array(img.convert("RGB"), dtype=np.uint8)


def images_in_folder(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name.

    Raises
    ------
    ValueError
        If ``folder`` is not a directory or holds no image file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def ignored_in_folder(folder: str | os.PathLike) -> list[Path]:
    """Files in ``folder`` that :func:`images_in_folder` leaves out (not an image suffix), sorted;
    hidden files (``.DS_Store``) are not listed."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in IMAGE_SUFFIXES)


#: How :func:`prepare` reaches a legal size: ``crop`` keeps the aspect ratio and centre-crops;
#: ``study`` stretches to sides floored to multiples of 32, as the 2023 study did.
RESIZE_MODES = ("crop", "study")
_STUDY_MULTIPLE = 32  # the study floored each side to a multiple of 32


@dataclass(frozen=True)
class Preparation:
    """How an image of one size becomes the pipeline's input: resized to ``scaled`` (height,
    width), then cropped to ``box`` (top, left, height, width). Masks follow the same plan."""

    scaled: tuple[int, int]
    box: tuple[int, int, int, int]
    resample: Image.Resampling

    @property
    def size(self) -> tuple[int, int]:
        """The prepared (height, width)."""
        return self.box[2], self.box[3]


def plan_preparation(height: int, width: int, *, max_side: int, multiple: int, resize: str = "crop") -> Preparation:
    """The :class:`Preparation` of an ``height`` x ``width`` image (see :func:`prepare`).

    Raises
    ------
    ValueError
        For an unknown ``resize``, ``multiple`` or ``max_side`` out of range, or a side that
        would have to be upsampled to reach a legal size.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    if multiple < 1 or max_side < multiple:
        raise ValueError(f"need 1 <= multiple <= max_side, got multiple={multiple}, max_side={max_side}")
    step = math.lcm(multiple, _STUDY_MULTIPLE) if resize == "study" else multiple
    if min(height, width) < step:
        # the smallest legal side is `step`: reaching it would mean upsampling
        raise ValueError(
            f"image {height}x{width} has a side shorter than {step} pixels; it cannot be prepared "
            f"to multiples of {step} without upsampling"
        )
    longest = max(height, width)
    if resize == "study":
        # the study: longest side scaled to at most max_side (integer sides, rounded down), each side
        # floored to a multiple of 32, one bicubic resize to that size: a slight stretch, no crop
        scaled_h, scaled_w = (side * min(max_side, longest) // longest for side in (height, width))
        sides = tuple(max(step, side // step * step) for side in (scaled_h, scaled_w))
        return Preparation(sides, (0, 0, *sides), Image.Resampling.BICUBIC)
    scale = min(1.0, max_side / longest)
    new_h, new_w = max(multiple, round(height * scale)), max(multiple, round(width * scale))
    crop_h, crop_w = (new_h // multiple) * multiple, (new_w // multiple) * multiple
    return Preparation((new_h, new_w), ((new_h - crop_h) // 2, (new_w - crop_w) // 2, crop_h, crop_w),
                       Image.Resampling.LANCZOS)


def apply_preparation(array: np.ndarray, plan: Preparation, *, resample: Image.Resampling | None = None) -> np.ndarray:
    """Resize and crop ``array`` (an image, or a ``uint8`` mask) as ``plan`` says; ``resample``
    overrides the plan's filter (masks use nearest neighbour so they stay binary)."""
    if array.shape[:2] != plan.scaled:
        pil = Image.fromarray(array).resize(plan.scaled[::-1], resample if resample is not None else plan.resample)
        array = np.asarray(pil, dtype=np.uint8)
    top, left, height, width = plan.box
    return np.ascontiguousarray(array[top : top + height, left : left + width])


def prepare(image: np.ndarray, *, max_side: int, multiple: int, resize: str = "crop") -> np.ndarray:
    """Downsize ``image`` so its longest side is at most ``max_side`` and each side a multiple of ``multiple``.

    ``resize="crop"`` (the default) scales the image down (never up) with a Lanczos filter,
    keeping the aspect ratio, then centre-crops to the nearest lower multiple of ``multiple`` on
    each side. ``resize="study"`` repeats the 2023 study's preparation: the longest side scaled
    to at most ``max_side``, each side floored to a multiple of 32 (and of ``multiple``), one
    bicubic resize to that size, which stretches the picture slightly instead of cropping it.
    The result is exactly the array to feed the pipeline and to compare its output with.

    Raises
    ------
    ValueError
        If ``image`` is not ``uint8`` HxWx3, or for the reasons of :func:`plan_preparation`.

    Examples
    --------
    >>> prepare(np.zeros((480, 640, 3), np.uint8), max_side=256, multiple=8).shape
    (192, 256, 3)
    >>> prepare(np.zeros((3000, 4000, 3), np.uint8), max_side=650, multiple=8, resize="study").shape
    (480, 640, 3)
    """
    _check_rgb(image, "image")
    return apply_preparation(image, plan_preparation(*image.shape[:2], max_side=max_side, multiple=multiple,
                                                     resize=resize))


def _check_rgb(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{name} must be an HxWx3 RGB array, got shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {image.dtype}")


# -- procedural landscapes ---------------------------------------------------------------------


def procedural_landscape(seed: int, *, size: tuple[int, int] = _LANDSCAPE_SIZE) -> np.ndarray:
    """A deterministic landscape: sky gradient, mountain ridges, optional water, grass texture.

    The same ``seed`` and ``size`` always give the same bytes.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    canvas = _sky(rng, height, width)
    horizon = int(height * rng.uniform(0.45, 0.6))
    for layer in range(int(rng.integers(2, 4))):
        canvas = _ridge(canvas, rng, horizon, layer)
    if rng.random() < 0.5:
        canvas = _water(canvas, rng, horizon)
    else:
        canvas = _grass(canvas, rng, horizon)
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, length: int, octaves: int = 5) -> np.ndarray:
    """1-D fractal noise in about [-1, 1], made of interpolated random octaves."""
    out = np.zeros(length)
    x = np.linspace(0, 1, length)
    for octave in range(octaves):
        knots = 2 ** (octave + 2)
        values = rng.uniform(-1, 1, knots + 1)
        out += np.interp(x, np.linspace(0, 1, knots + 1), values) / 2**octave
    return out / 1.9


def _blur(field: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(field, sigma=sigma)


def _sky(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    top = rng.uniform([20, 60, 140], [90, 130, 220])
    bottom = rng.uniform([170, 170, 170], [250, 220, 210])
    t = np.linspace(0, 1, height)[:, None, None]
    sky = top * (1 - t) + bottom * t
    clouds = _blur(rng.standard_normal((height, width)), sigma=width / 40)
    clouds = np.clip(clouds / (clouds.std() + 1e-9), 0, None)[..., None] * rng.uniform(10, 25)
    return np.broadcast_to(sky, (height, width, 3)) + clouds


def _ridge(canvas: np.ndarray, rng: np.random.Generator, horizon: int, layer: int) -> np.ndarray:
    height, width = canvas.shape[:2]
    base = horizon - rng.uniform(0.05, 0.3) * height / (layer + 1)
    profile = base + _smooth_noise(rng, width) * height * rng.uniform(0.08, 0.18)
    rows = np.arange(height)[:, None]
    inside = rows >= profile[None, :]
    shade = 0.55 + 0.15 * layer
    colour = rng.uniform([60, 70, 80], [120, 120, 140]) * shade
    texture = _blur(rng.standard_normal((height, width)), sigma=1.5)[..., None] * 12
    snow = (rows < profile[None, :] + height * 0.04) & (layer == 0)
    rock = np.where(snow[..., None], np.array([235.0, 238, 245]), colour) + texture
    return np.where(inside[..., None], rock, canvas)


def _water(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> np.ndarray:
    height, width = canvas.shape[:2]
    rows = height - horizon
    mirror = canvas[np.clip(horizon - 1 - np.arange(rows), 0, None)]  # reflection of the scene above
    ripples = np.sin(np.arange(rows)[:, None] * rng.uniform(0.4, 0.9) + rng.standard_normal((1, width)))
    water = mirror * 0.6 + rng.uniform([10, 40, 60], [30, 70, 100]) + ripples[..., None] * 6
    out = canvas.copy()
    out[horizon:] = water
    return out


def _grass(canvas: np.ndarray, rng: np.random.Generator, horizon: int) -> np.ndarray:
    height, width = canvas.shape[:2]
    rows = height - horizon
    blades = _blur(rng.standard_normal((rows, width)), sigma=(2.0, 0.6))
    depth = np.linspace(0.6, 1.2, rows)[:, None]
    green = rng.uniform([50, 100, 20], [90, 150, 50])
    grass = green[None, None, :] * depth[..., None] + blades[..., None] * 30 * depth[..., None]
    out = canvas.copy()
    out[horizon:] = grass
    return out


