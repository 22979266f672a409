"""Fixtures for the pipeline tests: the embedded pipelines load once per session, on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from harness import images
from harness.pipelines import Inpainter, load_inpainter


@pytest.fixture(scope="session")
def tiny() -> Inpainter:
    """The embedded 4-channel pipeline (legacy paste-back-in-latents path)."""
    return load_inpainter("tiny", device="cpu")


@pytest.fixture(scope="session")
def tiny_9ch() -> Inpainter:
    """The embedded 9-channel inpainting pipeline."""
    return load_inpainter("tiny-9ch", device="cpu")


@pytest.fixture(scope="session")
def small_image() -> np.ndarray:
    """A real photograph prepared to a small non-square size: 64 x 96."""
    image = images.prepare(images.load_bundled("rocket"), max_side=96, multiple=8)
    if image.shape != (64, 96, 3):
        raise RuntimeError(f"expected the prepared rocket to be 64x96, got {image.shape}")
    return image


@pytest.fixture(scope="session")
def small_mask(small_image: np.ndarray) -> np.ndarray:
    """A centred disc of radius 20 px in :func:`small_image`, True inside."""
    rows, cols = np.ogrid[:64, :96]
    return (rows - 31.5) ** 2 + (cols - 47.5) ** 2 <= 20**2
