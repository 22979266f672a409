"""The user's own masks: a folder of black-and-white images paired with ``--leak-images`` by file stem.

A mask is read at its own resolution, checked (binary, neither empty nor full), and fitted to the
prepared image by the image's own preparation plan with nearest-neighbour resampling, so it stays
binary and lands on the same pixels as the picture.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from harness.images import IMAGE_SUFFIXES, Preparation, apply_preparation

__all__ = ["MaskError", "load_user_mask", "pair_user_masks", "fit_user_mask"]

_ASPECT_SLACK = 0.02  # relative difference of aspect ratios still taken as the same picture


class MaskError(ValueError):
    """A user mask that cannot be used: unpaired, unreadable, not binary, empty or full."""


def load_user_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask file as a boolean ``H x W`` array (white = inpaint).

    Accepted: 1-bit images, and grey or colour images whose pixels are all black (0) or all
    white (255, or 1 in 0/1 images); colour images must be grey (R = G = B). EXIF orientation is
    applied, as for images; alpha is ignored.

    Raises
    ------
    MaskError
        Naming the file and what is wrong: unreadable, in colour, not binary, empty or full.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.seek(0)  # the first frame of an animated file, as for images
            img = ImageOps.exif_transpose(img)
            values = np.asarray(img.convert("RGB") if img.mode in ("P", "RGBA", "LA", "PA") else img)
    except UnidentifiedImageError as exc:
        raise MaskError(f"mask {path} is not a readable image ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - a damaged file fails deep in a PIL plugin, as in load_image
        raise MaskError(f"mask {path} is not a readable image ({type(exc).__name__}: {exc})") from exc
    if values.ndim == 3:
        if not (np.array_equal(values[..., 0], values[..., 1]) and np.array_equal(values[..., 0], values[..., 2])):
            raise MaskError(f"mask {path} is in colour: expected black (keep) and white (inpaint) only")
        values = values[..., 0]
    levels = np.unique(values)
    if values.dtype == np.bool_:
        mask = values
    elif set(levels.tolist()) <= {0, 255} or set(levels.tolist()) <= {0, 1}:
        mask = values > 0
    else:
        shown = ", ".join(str(v) for v in levels[:6]) + (", ..." if levels.size > 6 else "")
        raise MaskError(f"mask {path} is not binary: it has {levels.size} grey levels ({shown}); expected only "
                        "black (0, keep) and white (255, inpaint): threshold it, without anti-aliasing")
    return _check_coverage(mask, f"mask {path}")


def _check_coverage(mask: np.ndarray, what: str) -> np.ndarray:
    if not mask.any():
        raise MaskError(f"{what} is empty (all black): nothing would be inpainted")
    if mask.all():
        raise MaskError(f"{what} is all white: no pixel outside it is left to measure")
    return mask


def pair_user_masks(folder: str | os.PathLike, images: dict[str, str]) -> dict[str, str]:
    """Pair every image with the mask file of the same stem in ``folder``.

    ``images`` maps each image's name to its file stem (the name itself for a bundled image).
    Returns ``{name: mask path}``. Every image needs a mask; masks without an image are ignored
    (a folder may serve several image sets).

    Raises
    ------
    MaskError
        When ``folder`` is not a folder of images, two masks share a stem, or images lack a mask.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MaskError(f"--leak-masks {folder} is not a folder")
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            by_stem.setdefault(path.stem, []).append(path)
    if not by_stem:
        raise MaskError(f"--leak-masks {folder} holds no mask images ({', '.join(IMAGE_SUFFIXES)})")
    twice = sorted(stem for stem, paths in by_stem.items() if len(paths) > 1)
    if twice:
        raise MaskError(f"--leak-masks {folder} has several masks for one stem: {', '.join(twice)}")
    unpaired = sorted(stem for stem in images.values() if stem not in by_stem)
    if unpaired:
        raise MaskError(f"--leak-masks {folder} has no mask for image(s) {', '.join(unpaired)} "
                        f"(a mask pairs with an image by file stem, e.g. {unpaired[0]}.png)")
    return {name: str(by_stem[stem][0]) for name, stem in images.items()}


def fit_user_mask(mask: np.ndarray, image_size: tuple[int, int], plan: Preparation, *, name: str = "mask") -> np.ndarray:
    """``mask`` (boolean, at its own resolution) fitted to the prepared image.

    ``image_size`` is the original image's (height, width) and ``plan`` its preparation. The mask
    is resized to the image's size with nearest neighbour, then prepared like the image (again
    nearest neighbour).

    Raises
    ------
    MaskError
        When the mask's aspect ratio differs from the image's (not the same picture), or the
        fitted mask is empty or full.
    """
    height, width = image_size
    mask_h, mask_w = mask.shape
    if abs((mask_w / mask_h) / (width / height) - 1) > _ASPECT_SLACK:
        raise MaskError(f"{name} is {mask_h}x{mask_w} but its image is {height}x{width}: the aspect ratios "
                        "differ, so the mask cannot cover the same pixels")
    values = np.where(mask, np.uint8(255), np.uint8(0))
    if (mask_h, mask_w) != (height, width):
        values = np.asarray(Image.fromarray(values).resize((width, height), Image.Resampling.NEAREST))
    fitted = apply_preparation(values, plan, resample=Image.Resampling.NEAREST) > 0
    size = f"{plan.size[0]}x{plan.size[1]}"
    return _check_coverage(fitted, f"{name}, fitted to the prepared {size} image,")
