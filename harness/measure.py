"""One case, measured: prepare the image and mask, run the pipeline, compute the row.

This is the body of every benchmark case. It knows nothing of pytest; the plugin turns a
:class:`Measurement` with ``problems`` into a failed test after recording its row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from harness import masks, metrics
from harness.atomic import atomic_path
from harness.cases import Case, ImageSource
from harness.pipelines import NonFiniteOutputError

__all__ = ["Measurement", "measure_case", "prepared_image", "save_png"]


@dataclass
class Measurement:
    """The outcome of one case: its store row, the images compared, and what was wrong."""

    row: dict
    original: np.ndarray
    output: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=64)
def prepared_image(source: ImageSource, max_side: int, multiple: int) -> np.ndarray:
    """The image exactly as fed to the pipeline and compared with its output (cached per process)."""
    from harness.images import prepare

    image = prepare(source.load(), max_side=max_side, multiple=multiple)
    image.setflags(write=False)  # shared by every case of this image: nobody may change it
    return image


@functools.lru_cache(maxsize=64)
def _mask_and_distance(height: int, width: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The disc mask and its edge distances, shared by every case of one size and radius
    (the distance transform would otherwise be recomputed for each strength and seed)."""
    mask = masks.disc_mask(height, width, radius)
    distance = masks.edge_distance(mask)
    mask.setflags(write=False)
    distance.setflags(write=False)
    return mask, distance


def measure_case(inpainter, case: Case, *, max_side: int, paste_back: bool = False, prompt: str = "",
                 guidance_scale: float = 0.0) -> Measurement:
    """Run ``case`` on ``inpainter`` and compute its metrics row.

    Output problems (not finite, wrong shape, a constant image such as a safety checker's black
    frame) do not raise: they are flagged in the row and listed in ``problems``, so the row is
    recorded before the case fails.
    """
    image = prepared_image(case.image, max_side, inpainter.size_multiple)
    height, width = image.shape[:2]
    mask, distance = _mask_and_distance(height, width, case.radius)
    row = {**case.as_dict(), "height": height, "width": width, "flags": []}
    measurement = Measurement(row, image)
    try:
        if case.strength is None:
            measurement.output = inpainter.vae_roundtrip(image)
        else:
            measurement.output = inpainter.inpaint(
                image, mask, strength=case.strength, seed=case.seed, steps=case.steps,
                guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back,
            )
    except NonFiniteOutputError as exc:
        measurement.problems.append(str(exc))
        row["flags"].append("non_finite")
    finally:
        timing = inpainter.last_timing
        if timing is not None:
            row.update(seconds=timing.seconds, steps_run=timing.steps)
    if measurement.output is not None:
        _check_output(measurement, image)
    if not measurement.problems:
        row.update(metrics.leakage_metrics(image, measurement.output, mask))
        row["edge_profile"] = metrics.edge_profile(image, measurement.output, distance)
    return measurement


def _check_output(measurement: Measurement, image: np.ndarray) -> None:
    output = measurement.output
    if output.shape != image.shape or output.dtype != np.uint8:
        measurement.problems.append(
            f"output is {output.dtype} {output.shape}, expected uint8 {image.shape} like the input"
        )
        measurement.row["flags"].append("wrong_shape")
    elif output.min() == output.max():
        measurement.problems.append(
            f"output is a constant image (every value {output.flat[0]}): a safety checker's blank "
            "frame or a broken pipeline, not an inpainting"
        )
        measurement.row["flags"].append("constant_output")


def save_png(array: np.ndarray, path: Path) -> None:
    """Write ``array`` as PNG atomically (workers may race to write the same original)."""
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
