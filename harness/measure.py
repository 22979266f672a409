"""One case, measured: prepare the image and mask, run the pipeline and the case's mitigation,
compute the row.

This is the body of every benchmark case. It knows nothing of pytest; the plugin turns a
:class:`Measurement` with ``problems`` into a failed test, and one with ``skip`` into a skipped
test, after recording its row.

Per process, four things are computed once and shared by the cases that need them: each
prepared image, each mask with its edge distances, each image's VAE round trip (the floor
that every case's ``mse_excess`` subtracts), and for each image and mask the part of the metrics
that depends on them alone (:mod:`harness.reference`), so a case computes only its output's part. The unmitigated pipeline call of a mitigation case
is shared by ``none``, ``paste`` and ``blend``, which differ only in what follows it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from harness import masks
from harness.atomic import atomic_path
from harness.cases import USER_MASK, Case, ImageSource
from harness.images import Preparation, apply_preparation, plan_preparation
from harness.mitigations import Mitigation
from harness.pipelines import NonFiniteOutputError
from harness.reference import FloorReference, Reference

__all__ = ["Measurement", "Settings", "measure_case", "prepared_image", "call_inputs", "save_png"]


@dataclass
class Measurement:
    """The outcome of one case: its store row, the images compared, what was wrong, and why it
    was skipped (``skip``) when the pipeline cannot run it."""

    row: dict
    original: np.ndarray | None  # None for a row copied from the store (nothing was computed)
    output: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)
    skip: str | None = None


@dataclass(frozen=True)
class Settings:
    """What a session applies to every call (hashable: it keys the per-process caches)."""

    max_side: int
    resize: str = "crop"
    paste_back: bool = False
    prompt: str = ""
    guidance_scale: float = 0.0


#: ``(inpainter, case, settings) -> (output, timing)``: where an unmitigated call's output comes from.
PlainCall = Callable[[object, Case, "Settings"], tuple]


@functools.lru_cache(maxsize=64)
def _prepared(source: ImageSource, max_side: int, multiple: int, resize: str) -> tuple[np.ndarray, Preparation,
                                                                                       tuple[int, int]]:
    original = source.load()
    plan = plan_preparation(*original.shape[:2], max_side=max_side, multiple=multiple, resize=resize)
    image = apply_preparation(original, plan)
    image.setflags(write=False)  # shared by every case of this image: nobody may change it
    return image, plan, original.shape[:2]


def prepared_image(source: ImageSource, max_side: int, multiple: int, resize: str = "crop") -> np.ndarray:
    """The image exactly as fed to the pipeline and compared with its output (cached per process)."""
    return _prepared(source, max_side, multiple, resize)[0]


@functools.lru_cache(maxsize=64)  # a 650 px mask with its distances is ~4 MB
def _mask(case: Case, max_side: int, multiple: int, resize: str) -> tuple[np.ndarray, np.ndarray, float | None]:
    """The case's mask, its edge distances and (for a disc) its radius in pixels, shared by every
    case with the same mask (the distance transform would otherwise be recomputed per strength)."""
    _, plan, original_size = _prepared(case.image, max_side, multiple, resize)
    height, width = plan.size
    radius_px = None
    if case.mask == USER_MASK:
        mask = masks.fit_user_mask(masks.load_user_mask(case.image.mask), original_size, plan,
                                   name=f"mask {Path(case.image.mask).name}")
    elif case.area is not None:
        mask = masks.family_mask(case.mask, height, width, case.area, seed=case.seed or 0)
    else:
        floor = resize == "study"  # the study floored the disc's radius to whole pixels
        mask = masks.disc_mask(height, width, case.radius, floor=floor)
        radius_px = masks.disc_radius_px(height, width, case.radius, floor=floor)
    distance = masks.edge_distance(mask)
    mask.setflags(write=False)
    distance.setflags(write=False)
    return mask, distance, radius_px


def _mask_key(case: Case) -> Case:
    """The fields that decide a case's mask (strokes alone depend on the seed), so cases that
    share a mask share the cache entry."""
    seed = case.seed if case.mask.startswith("strokes") else None
    return Case("", case.image, case.radius, None, seed, 0, mask=case.mask, area=case.area)


@functools.lru_cache(maxsize=32)
def _roundtrip(inpainter, source: ImageSource, max_side: int, resize: str):
    """The image's VAE round trip and its timing, once per image and size per process."""
    output = inpainter.vae_roundtrip(prepared_image(source, max_side, inpainter.size_multiple, resize))
    output.setflags(write=False)
    return output, inpainter.last_timing


def call_inputs(inpainter, case: Case, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The prepared image and mask ``case`` feeds the pipeline (cached per process); a mask
    that cannot be made raises ``ValueError``."""
    image = prepared_image(case.image, settings.max_side, inpainter.size_multiple, settings.resize)
    return image, _mask(_mask_key(case), settings.max_side, inpainter.size_multiple, settings.resize)[0]


@functools.lru_cache(maxsize=8)
def _plain_call(inpainter, case: Case, settings: Settings):
    """The unmitigated pipeline call of ``case`` and its timing (mitigations that only post-process share it)."""
    image, mask = call_inputs(inpainter, case, settings)
    output = inpainter.inpaint(image, mask, **_call_arguments(case, settings))
    output.setflags(write=False)
    return output, inpainter.last_timing


def _call_arguments(case: Case, settings: Settings) -> dict:
    return {"strength": case.strength, "seed": case.seed, "steps": case.steps, "guidance_scale": settings.guidance_scale,
            "prompt": settings.prompt, "paste_back": settings.paste_back}


def _mitigation(case: Case, inpainter) -> Mitigation | None:
    """The case's mitigation; ``dilate`` without a width grows the mask by one latent cell."""
    if case.mitigation is None:
        return None
    px = inpainter.vae_scale_factor if case.mitigation == "dilate" and case.mitigation_px is None else case.mitigation_px
    return Mitigation(case.mitigation, px)


def _run(inpainter, case: Case, image: np.ndarray, mask: np.ndarray, mitigation: Mitigation | None,
         settings: Settings, plain_call: PlainCall | None):
    """The case's output (before the output checks) and the timing of the call that made it."""
    if case.strength is None:
        return _roundtrip(inpainter, case.image, settings.max_side, settings.resize)
    if mitigation is None or mitigation.shares_plain_call:
        output, timing = (plain_call or _plain_call)(inpainter, dataclasses.replace(case, mitigation=None, mitigation_px=None),
                                     settings)
        return (mitigation.finish(image, output, mask) if mitigation else output), timing
    output = inpainter.inpaint(image, mitigation.call_mask(mask), **_call_arguments(case, settings),
                               **mitigation.call_options())
    return output, inpainter.last_timing


def measure_case(inpainter, case: Case, *, max_side: int, resize: str = "crop", paste_back: bool = False,
                 prompt: str = "", guidance_scale: float = 0.0, plain_call: PlainCall | None = None,
                 ready: Callable[[], None] | None = None) -> Measurement:
    """Run ``case`` on ``inpainter`` and compute its metrics row.

    Problems with the case's mask (a user mask that vanishes at this size, an area a family
    cannot reach) and with the output (not finite, wrong shape, a constant image such as a
    safety checker's black frame) do not raise: they are flagged in the row and listed in
    ``problems``, so the row is recorded before the case fails. A mitigation the pipeline does
    not support sets ``skip``. ``plain_call(inpainter, case, settings) -> (output, timing)``
    replaces the per-process cache of unmitigated calls (batched execution fills its own).
    ``ready()`` is called once the case is done with the pipeline (its output and its image's
    VAE floor are in hand), before the metrics: the pipeline may be used elsewhere from then on.
    """
    settings = Settings(max_side, resize, paste_back, prompt, guidance_scale)
    image = prepared_image(case.image, max_side, inpainter.size_multiple, resize)
    row = {**case.as_dict(), "height": image.shape[0], "width": image.shape[1], "flags": []}
    measurement = Measurement(row, image)
    try:
        mask, _, radius_px = _mask(_mask_key(case), max_side, inpainter.size_multiple, resize)
    except ValueError as exc:  # MaskError included: the message names the mask and the problem
        measurement.problems.append(str(exc))
        row["flags"].append("bad_mask")
        return measurement
    row.update(mask_area=float(mask.mean()), radius_px=radius_px)
    mitigation = _mitigation(case, inpainter)
    if mitigation is not None:
        row["mitigation_px"] = mitigation.px
        unsupported = [name for name in mitigation.call_options() if not inpainter.accepts(name)]
        if unsupported:
            measurement.skip = f"{type(inpainter.pipe).__name__}.__call__ takes no {', '.join(unsupported)}"
            return measurement
    _run_checked(measurement, inpainter, case, mask, mitigation, settings, plain_call)
    if not measurement.problems:
        _record_metrics(measurement, inpainter, case, settings, ready)
    return measurement


def _run_checked(measurement: Measurement, inpainter, case: Case, mask: np.ndarray, mitigation: Mitigation | None,
                 settings: Settings, plain_call: PlainCall | None) -> None:
    """The case's output and timing into ``measurement``; a non-finite or malformed output is a problem."""
    row, timing = measurement.row, None
    try:
        measurement.output, timing = _run(inpainter, case, measurement.original, mask, mitigation, settings, plain_call)
    except NonFiniteOutputError as exc:
        measurement.problems.append(str(exc))
        row["flags"].append("non_finite")
    finally:
        timing = timing or inpainter.last_timing
        if timing is not None:
            row.update(seconds=timing.seconds, steps_run=timing.steps)
    if measurement.output is not None:
        _check_output(measurement, measurement.original)


def _record_metrics(measurement: Measurement, inpainter, case: Case, settings: Settings,
                    ready: Callable[[], None] | None = None) -> None:
    """Leakage, the defects users see, and the excess over the image's VAE round trip."""
    try:
        _roundtrip(inpainter, case.image, settings.max_side, settings.resize)  # the pipeline's last use here
        failed = None
    except NonFiniteOutputError as exc:
        failed = exc
    if ready is not None:
        ready()  # the pipeline's part is done; the rest (the masks' references included) is arithmetic
    reference = _reference(_mask_key(case), settings.max_side, inpainter.size_multiple, settings.resize)
    if failed is not None:
        measurement.row.update(reference.row(measurement.output))
        measurement.problems.append(f"the VAE round trip, needed for mse_excess: {failed}")
        measurement.row["flags"].append("non_finite")
        return
    # the round trip is cached now: building the mask's floor reference needs no pipeline
    floor = _floor_reference(inpainter, _mask_key(case), settings.max_side, settings.resize)
    measurement.row.update(reference.row(measurement.output, floor))


# A Reference of a 650 px image holds about 25 MB (float64 image, SSIM statistics, bins); the radius
# sweep cycles through its masks once per strength, so the caches hold a sweep's worth of smoke masks.
@functools.lru_cache(maxsize=16)
def _reference(mask_key: Case, max_side: int, multiple: int, resize: str) -> Reference:
    """What every output's metrics need from the prepared image and the case's mask, once per mask."""
    image = _prepared(mask_key.image, max_side, multiple, resize)[0]
    mask, distance, _ = _mask(mask_key, max_side, multiple, resize)
    return Reference(image, mask, distance)


@functools.lru_cache(maxsize=16)
def _floor_reference(inpainter, mask_key: Case, max_side: int, resize: str) -> FloorReference:
    """The excess metrics' part of :func:`_reference`: needs the image's VAE round trip (which may
    raise ``NonFiniteOutputError``; a failure is not cached, as the round trip's is not)."""
    floor = _roundtrip(inpainter, mask_key.image, max_side, resize)[0]
    return FloorReference(_reference(mask_key, max_side, inpainter.size_multiple, resize), floor)


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


#: zlib level of the saved PNGs. Still lossless; at 416x640 level 1 took 21 ms against Pillow's
#: default (6) 79 ms, for files 12 % larger: 1.0 % instead of 3.8 % of a 10-step call of the
#: embedded pipeline on one CPU thread.
PNG_COMPRESS_LEVEL = 1


def save_png(array: np.ndarray, path: Path) -> None:
    """Write ``array`` as a lossless PNG, atomically (workers may race to write the same original)."""
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
