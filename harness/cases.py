"""Sweep definitions: presets and the cases they expand to. No torch here.

A :class:`Case` is one measurement: one image, one mask (a disc of ``radius`` x half the shorter
side, or a mask ``family`` at an ``area``), one ``strength``, one ``seed``, and in the mitigation
experiment one ``mitigation``. Its :attr:`Case.case_id` is the pytest id, short, stable and
readable (``coffee-s0.42-r0.80-seed0``, ``coffee-strokes-thin-a0.20-s0.50-seed0``,
``coffee-blend-s0.50-r0.50-seed0``), so ``-k coffee``, ``-k s0.9`` or ``-k strokes`` select what a
user expects. Ids are unique within an experiment; the store keys rows by experiment and case id.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from harness import images
from harness.masks import MASK_FAMILIES, load_user_mask, pair_user_masks
from harness.mitigations import MITIGATIONS

__all__ = [
    "Case",
    "ImageSource",
    "Preset",
    "PRESETS",
    "EXPERIMENTS",
    "resolve_images",
    "attach_user_masks",
    "ignored_files",
    "build_cases",
    "skip_reason",
    "StepRule",
]

#: The experiments, each a module ``benchmarks/test_<name>.py``.
EXPERIMENTS = ("strength", "radius", "floor", "masks", "mitigation")
#: The mask family of the cases that use the user's own masks (``--leak-masks``).
USER_MASK = "user"


@dataclass(frozen=True)
class ImageSource:
    """Where an image comes from: a bundled name, or a user's file (``path`` set); ``mask`` is
    the user's mask file paired with it (``--leak-masks``), if any."""

    name: str
    path: str | None = None
    mask: str | None = None

    def load(self) -> np.ndarray:
        """The image as ``uint8`` RGB, before preparation."""
        return images.load_image(self.path) if self.path else images.load_bundled(self.name)


@dataclass(frozen=True)
class Case:
    """One measurement. ``strength`` and ``seed`` are ``None`` for the VAE floor (no diffusion).

    The mask is a disc of ``radius`` unless ``area`` is set: then it is the ``mask`` family's
    mask covering that share of the image (:func:`harness.masks.family_mask`, seeded by
    ``seed``); ``mask == "user"`` is the image's own mask file. ``mitigation`` (with its width
    ``mitigation_px``, ``None`` for one latent cell) is applied in the mitigation experiment.
    """

    experiment: str
    image: ImageSource
    radius: float | None
    strength: float | None
    seed: int | None
    steps: int
    mask: str = "disc"
    area: float | None = None
    mitigation: str | None = None
    mitigation_px: int | None = None

    @property
    def case_id(self) -> str:
        """The pytest id, e.g. ``coffee-s0.42-r0.80-seed0`` (``coffee-r0.80`` for the floor,
        ``coffee-box-a0.20-s0.50-seed0`` for a mask family, ``coffee-paste-s0.50-r0.50-seed0``
        for a mitigation)."""
        if self.strength is None:
            return f"{self.image.name}-r{self.radius:.2f}"
        tail = f"s{self.strength:.2f}-seed{self.seed}"
        if self.mask == USER_MASK:
            return f"{self.image.name}-{USER_MASK}-{tail}"
        if self.area is not None:
            return f"{self.image.name}-{self.mask}-a{self.area:.2f}-{tail}"
        prefix = f"{self.image.name}-{self.mitigation}" if self.mitigation else self.image.name
        return f"{prefix}-s{self.strength:.2f}-r{self.radius:.2f}-seed{self.seed}"

    def as_dict(self) -> dict:
        """Plain fields for the results store (image by name)."""
        row = dataclasses.asdict(self)
        row["image"] = self.image.name
        row["case_id"] = self.case_id
        return row


@dataclass(frozen=True)
class Preset:
    """A sweep design. Sizes are applied by :func:`harness.images.prepare`."""

    name: str
    images: tuple[str, ...]
    max_side: int
    steps: int
    strengths: tuple[float, ...]  # the strength sweep ...
    strength_radius: float  # ... at this disc radius
    radii: tuple[float, ...]  # the radius sweep ...
    radius_strengths: tuple[float, ...]  # ... at each of these strengths
    floor_radius: float  # radius of the mask the VAE floor is measured outside of
    scheduler: str = "model"  # the folder's own, or a diffusers scheduler class name (--leak-scheduler wins)
    guidance_scale: float = 0.0
    prompt: str = ""
    resize: str = "crop"  # how images reach legal sizes (harness.images.RESIZE_MODES)
    mask_images: int | None = None  # the masks and mitigation experiments use the first N images (None: all)
    mask_families: tuple[str, ...] = MASK_FAMILIES  # the masks experiment: these families ...
    mask_areas: tuple[float, ...] = (0.2,)  # ... at these shares of the image ...
    mask_strengths: tuple[float, ...] = (0.5,)  # ... at these strengths (also the user's masks)
    mitigations: tuple[str, ...] = MITIGATIONS  # the mitigation experiment: these ...
    mitigation_strengths: tuple[float, ...] = (0.5, 1.0)  # ... at these strengths ...
    mitigation_radius: float = 0.5  # ... on a disc of this radius
    feather_px: int = 4  # the soft blend's feather
    crop_padding_px: int = 8  # padding_mask_crop


def _rounded(values: np.ndarray, decimals: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(values, decimals))


PRESETS: dict[str, Preset] = {
    # Seconds to minutes on a CPU with the embedded pipeline; strength 0.0 shows a reported skip.
    "smoke": Preset(
        name="smoke",
        images=("coffee", "astronaut", "alpine-lake"),
        max_side=192,
        steps=10,
        strengths=_rounded(np.linspace(0.0, 1.0, 11), 1),
        strength_radius=0.8,
        radii=(0.2, 0.35, 0.5, 0.65, 0.8),
        radius_strengths=(0.1, 0.5, 0.9),
        floor_radius=0.8,
        mask_images=1,
    ),
    # The study's design: 20 images, 100 strengths at radius 0.8, 50 radii at 3 strengths.
    "paper": Preset(
        name="paper",
        images=tuple(images.bundled_names()[:20]),
        max_side=650,
        steps=200,
        strengths=_rounded(np.linspace(0.0, 1.0, 100), 2),
        strength_radius=0.8,
        radii=tuple(float(r) for r in np.linspace(0.2, 0.8, 50)),
        radius_strengths=(0.1, 0.5, 0.9),
        floor_radius=0.8,
        resize="study",  # the study's own preparation (longest side 650, sides floored to 32, bicubic)
        mask_areas=(0.1, 0.2, 0.3, 0.4),
        mask_strengths=(0.5, 0.9),
        feather_px=8,
        crop_padding_px=32,
        scheduler="PNDMScheduler",  # the study ran SD 1.x with PNDM
    ),
}


def resolve_images(specs: list[str] | tuple[str, ...]) -> list[ImageSource]:
    """Turn ``--leak-images`` entries (bundled names and/or folders) into image sources.

    Raises
    ------
    ValueError
        Naming an entry that is neither a bundled name nor a folder of images, or two images
        that would share a name.
    """
    sources: list[ImageSource] = []
    for spec in specs:
        if spec in images.bundled_names():
            sources.append(ImageSource(spec))
        elif Path(spec).is_dir():
            sources.extend(ImageSource(_id_safe(p.stem), str(p)) for p in images.images_in_folder(spec))
        else:
            raise ValueError(
                f"--leak-images entry {spec!r} is neither a bundled image name "
                f"({', '.join(images.bundled_names())}) nor a folder of images"
            )
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"image names must be unique, these occur more than once: {', '.join(dupes)}")
    return sources


def ignored_files(specs: list[str] | tuple[str, ...]) -> list[Path]:
    """Files in the folders among ``specs`` that are not taken as images (to name, not drop silently)."""
    return [path for spec in specs if spec not in images.bundled_names() and Path(spec).is_dir()
            for path in images.ignored_in_folder(spec)]


def _id_safe(stem: str) -> str:
    """A file stem made safe for a pytest id: no whitespace, brackets or ``::``."""
    return re.sub(r"[\s\[\]:/\\]+", "_", stem) or "image"


class StepRule(Protocol):
    """The pipeline's own step rule (a :class:`harness.pipelines.PipelineSpec`): whether it
    refuses a strength, and where the rule comes from."""

    def refuses(self, steps: int, strength: float) -> bool: ...

    def rule(self) -> str: ...


def skip_reason(case: Case, pipeline: StepRule) -> str | None:
    """Why a case cannot run (the pipeline leaves no denoising step at its strength), else ``None``.

    The count is the pipeline's own (its ``get_timesteps`` on its scheduler), not a formula kept
    here: SD keeps ``int(n x s)`` steps, the flow-matching pipelines ``n - int(n - n x s)``.
    """
    if case.strength is None or not pipeline.refuses(case.steps, case.strength):
        return None
    return (f"strength {case.strength:g} with {case.steps} steps leaves 0 denoising steps in {pipeline.rule()}: "
            "nothing would be inpainted")


def attach_user_masks(sources: list[ImageSource], folder: str) -> list[ImageSource]:
    """``sources`` with each one's mask file from ``folder`` (paired by file stem), every mask
    read and checked now, before anything runs.

    Raises
    ------
    harness.masks.MaskError
        When an image has no mask there (see :func:`harness.masks.pair_user_masks`) or a mask is
        unreadable, not binary, empty or full (see :func:`harness.masks.load_user_mask`).
    """
    stems = {s.name: Path(s.path).stem if s.path else s.name for s in sources}
    pairs = pair_user_masks(folder, stems)
    for path in pairs.values():
        load_user_mask(path)
    return [dataclasses.replace(s, mask=pairs[s.name]) for s in sources]


def _grid_cases(experiment: str, preset: Preset, sources: list[ImageSource], steps: int,
                seeds: list[int]) -> list[Case]:
    """The cases of the strength and radius sweeps."""
    if experiment == "strength":
        grid = [(preset.strength_radius, s) for s in preset.strengths]
    else:
        grid = [(r, s) for s in preset.radius_strengths for r in preset.radii]
    return [Case(experiment, src, radius, strength, seed, steps)
            for src in sources for radius, strength in grid for seed in seeds]


def _mask_cases(preset: Preset, sources: list[ImageSource], steps: int, seeds: list[int]) -> list[Case]:
    """Images x mask family x area x strength, then the user's masks (every image that has one)."""
    cases = [Case("masks", src, None, strength, seed, steps, mask=family, area=area)
             for src in sources[: preset.mask_images] for family in preset.mask_families
             for area in preset.mask_areas for strength in preset.mask_strengths for seed in seeds]
    return cases + [Case("masks", src, None, strength, seed, steps, mask=USER_MASK)
                    for src in sources if src.mask for strength in preset.mask_strengths for seed in seeds]


def _mitigation_cases(preset: Preset, sources: list[ImageSource], steps: int, seeds: list[int]) -> list[Case]:
    """Images x strength x mitigation on one disc; widths from the preset (dilation: one latent cell)."""
    widths = {"blend": preset.feather_px, "crop": preset.crop_padding_px}
    return [Case("mitigation", src, preset.mitigation_radius, strength, seed, steps, mitigation=name,
                 mitigation_px=widths.get(name))
            for src in sources[: preset.mask_images] for strength in preset.mitigation_strengths
            for seed in seeds for name in preset.mitigations]


def build_cases(
    experiment: str,
    preset: Preset,
    sources: list[ImageSource],
    *,
    steps: int,
    seeds: list[int],
) -> list[Case]:
    """Expand ``preset`` into the cases of one experiment, in a stable order.

    Every experiment but the floor repeats its cases over ``seeds``; the floor is seed-free. The
    masks and mitigation experiments use the preset's first ``mask_images`` images (the user's
    masks, every image that has one).
    """
    if experiment == "floor":
        return [Case("floor", src, preset.floor_radius, None, None, steps) for src in sources]
    if experiment in ("strength", "radius"):
        cases = _grid_cases(experiment, preset, sources, steps, seeds)
    elif experiment == "masks":
        cases = _mask_cases(preset, sources, steps, seeds)
    elif experiment == "mitigation":
        cases = _mitigation_cases(preset, sources, steps, seeds)
    else:
        raise ValueError(f"unknown experiment {experiment!r}; expected one of {', '.join(EXPERIMENTS)}")
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{experiment} sweep of preset {preset.name!r} has duplicate case ids")
    return cases
