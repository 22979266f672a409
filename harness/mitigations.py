"""Mitigations people apply against leakage, as pure functions on arrays plus the call options they need.

Each removes leakage in its own way and pays for it elsewhere, which is why the mitigation
experiment records leakage and seam together:

* ``none``: the pipeline's output as it is;
* ``paste``: the original pasted back outside the mask (zero leakage, a possible seam);
* ``blend``: the output alpha-composited over the original with the mask feathered over ``k``
  pixels outside its edge (leakage only within those ``k`` pixels, a softer seam);
* ``crop``: diffusers' ``padding_mask_crop``: the pipeline inpaints a crop around the mask and
  pastes it back with ``image_processor.apply_overlay`` (where the pipeline's ``__call__`` takes it);
* ``dilate``: the mask grown by one latent cell before the call, so the repainted latent cells
  no longer straddle the user's edge from the inside.

Leakage is always measured against the user's mask, the region they asked to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.masks import edge_distance

__all__ = ["MITIGATIONS", "Mitigation", "paste_back", "feather_alpha", "soft_blend", "dilate_mask"]

#: The mitigations the experiment compares, in report order.
MITIGATIONS = ("none", "paste", "blend", "crop", "dilate")


def _check(original: np.ndarray, output: np.ndarray, mask: np.ndarray) -> None:
    if original.shape != output.shape or original.dtype != np.uint8 or output.dtype != np.uint8:
        raise ValueError(f"original and output must be uint8 arrays of one shape, got {original.dtype} "
                         f"{original.shape} and {output.dtype} {output.shape}")
    if mask.dtype != np.bool_ or mask.shape != original.shape[:2]:
        raise ValueError(f"mask must be a boolean {original.shape[:2]} array, got {mask.dtype} {mask.shape}")


def paste_back(original: np.ndarray, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The output inside the mask, the original outside it: leakage exactly 0."""
    _check(original, output, mask)
    return np.where(mask[..., None], output, original)


def feather_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """Opacity of the output: 1 inside the mask, ``1 - d / (feather + 1)`` for outside pixels at
    distance ``d <= feather`` from it (a linear ramp), 0 beyond. ``H x W`` float64."""
    if isinstance(feather, bool) or not isinstance(feather, (int, np.integer)) or feather < 1:
        raise ValueError(f"feather must be a whole number of pixels >= 1, got {feather!r}")
    distance = edge_distance(mask)
    return np.clip(1.0 - distance / (feather + 1.0), 0.0, 1.0)


def soft_blend(original: np.ndarray, output: np.ndarray, mask: np.ndarray, feather: int) -> np.ndarray:
    """The output composited over the original with :func:`feather_alpha` (rounded to uint8)."""
    _check(original, output, mask)
    alpha = feather_alpha(mask, feather)[..., None]
    blended = alpha * output.astype(np.float64) + (1.0 - alpha) * original.astype(np.float64)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def dilate_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` grown by every pixel within ``pixels`` (Euclidean) of it."""
    if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)) or pixels < 1:
        raise ValueError(f"pixels must be a whole number >= 1, got {pixels!r}")
    return edge_distance(mask) <= pixels


@dataclass(frozen=True)
class Mitigation:
    """One mitigation with its width in pixels: the feather (``blend``), the crop padding
    (``crop``) or the dilation (``dilate``, one latent cell); ``None`` for the others."""

    name: str
    px: int | None = None

    def __post_init__(self) -> None:
        if self.name not in MITIGATIONS:
            raise ValueError(f"unknown mitigation {self.name!r}; expected one of {', '.join(MITIGATIONS)}")
        if self.name in ("blend", "crop", "dilate") and not (isinstance(self.px, int) and self.px >= 1):
            raise ValueError(f"mitigation {self.name!r} needs a width in pixels >= 1, got {self.px!r}")

    @property
    def shares_plain_call(self) -> bool:
        """True when the pipeline call is the unmitigated one (only what follows it differs)."""
        return self.name in ("none", "paste", "blend")

    def call_mask(self, mask: np.ndarray) -> np.ndarray:
        """The mask to send to the pipeline."""
        return dilate_mask(mask, self.px) if self.name == "dilate" else mask

    def call_options(self) -> dict:
        """Extra pipeline arguments (``padding_mask_crop`` for ``crop``)."""
        return {"padding_mask_crop": self.px} if self.name == "crop" else {}

    def finish(self, original: np.ndarray, output: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """What the user keeps of the pipeline's ``output``."""
        if self.name == "paste":
            return paste_back(original, output, mask)
        if self.name == "blend":
            return soft_blend(original, output, mask, self.px)
        return output
