"""Converters between the harness's arrays and what diffusers' pipelines take and return.

Inside the harness an image is ``uint8`` HxWx3 and a mask is ``bool`` HxW (True = inpaint).
Pipelines get PIL images (exact for uint8, and diffusers binarises the mask at 0.5) and return
float arrays in [0, 1], which are rounded back to uint8 here, never silently clipped when not
finite.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from harness.masks import mask_to_image

from .errors import NonFiniteOutputError

__all__ = ["check_case", "check_image", "to_pil_image", "to_pil_mask", "to_uint8"]


def check_image(image: np.ndarray, multiple: int) -> None:
    """Validate an image for a pipeline whose sides must be multiples of ``multiple``.

    Raises
    ------
    ValueError
        If the image is not uint8 HxWx3 or a side is not a multiple of ``multiple``.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 HxWx3 array, got {_describe(image)}")
    height, width = image.shape[:2]
    if height % multiple or width % multiple:
        raise ValueError(
            f"image size {height}x{width} is not a multiple of the pipeline's size multiple {multiple}; "
            f"prepare it with harness.images.prepare(image, max_side=..., multiple={multiple})"
        )


def check_case(image: np.ndarray, mask: np.ndarray, multiple: int) -> None:
    """Validate one image/mask pair: :func:`check_image`, and a bool HxW mask of the same size.

    Raises
    ------
    ValueError
        Naming what is wrong.
    """
    check_image(image, multiple)
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != image.shape[:2]:
        raise ValueError(f"mask must be a bool array of shape {image.shape[:2]}, got {_describe(mask)}")


def _describe(array: object) -> str:
    if isinstance(array, np.ndarray):
        return f"{array.dtype} array of shape {array.shape}"
    return type(array).__name__


def to_pil_image(image: np.ndarray) -> Image.Image:
    """uint8 HxWx3 -> RGB PIL image (lossless)."""
    return Image.fromarray(np.ascontiguousarray(image))


def to_pil_mask(mask: np.ndarray) -> Image.Image:
    """bool HxW -> 8-bit PIL mask, white (255) where True: diffusers' 'repaint here'."""
    return Image.fromarray(mask_to_image(mask))


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float HxWx3 in [0, 1] -> uint8 by rounding ``pixels * 255``.

    Raises
    ------
    NonFiniteOutputError
        If any value is NaN or infinite.
    """
    finite = np.isfinite(pixels)
    if not finite.all():
        raise NonFiniteOutputError(
            f"pipeline output has {int((~finite).sum())} non-finite values of {pixels.size} "
            "(NaN/inf; with float16 this is usually VAE overflow: try dtype='float32')"
        )
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
