"""Sweep definitions: presets and the cases they expand to. No torch here.

A :class:`Case` is one measurement: one image, one mask (a disc of ``radius`` x half the shorter
side), one ``strength``, one ``seed``. Its :attr:`Case.case_id` is the pytest id, short, stable
and readable (``coffee-s0.42-r0.80-seed0``), so ``-k coffee`` or ``-k s0.9`` select what a user
expects. Ids are unique within an experiment; the store keys rows by experiment and case id.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from harness import images

__all__ = [
    "Case",
    "ImageSource",
    "Preset",
    "PRESETS",
    "EXPERIMENTS",
    "resolve_images",
    "ignored_files",
    "build_cases",
    "skip_reason",
    "StepRule",
]

#: The experiments, each a module ``benchmarks/test_<name>.py``.
EXPERIMENTS = ("strength", "radius", "floor")


@dataclass(frozen=True)
class ImageSource:
    """Where an image comes from: a bundled name, or a user's file (``path`` set)."""

    name: str
    path: str | None = None

    def load(self) -> np.ndarray:
        """The image as ``uint8`` RGB, before preparation."""
        return images.load_image(self.path) if self.path else images.load_bundled(self.name)


@dataclass(frozen=True)
class Case:
    """One measurement. ``strength`` and ``seed`` are ``None`` for the VAE floor (no diffusion)."""

    experiment: str
    image: ImageSource
    radius: float
    strength: float | None
    seed: int | None
    steps: int

    @property
    def case_id(self) -> str:
        """The pytest id, e.g. ``coffee-s0.42-r0.80-seed0`` (``coffee-r0.80`` for the floor)."""
        if self.strength is None:
            return f"{self.image.name}-r{self.radius:.2f}"
        return f"{self.image.name}-s{self.strength:.2f}-r{self.radius:.2f}-seed{self.seed}"

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


def _rounded(values: np.ndarray, decimals: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(values, decimals))


PRESETS: dict[str, Preset] = {
    # Seconds to minutes on a CPU with the embedded pipeline; strength 0.0 shows a reported skip.
    "smoke": Preset(
        name="smoke",
        images=("coffee", "astronaut", "alpine-lake"),
        max_side=128,
        steps=10,
        strengths=_rounded(np.linspace(0.0, 1.0, 11), 1),
        strength_radius=0.8,
        radii=(0.2, 0.35, 0.5, 0.65, 0.8),
        radius_strengths=(0.1, 0.5, 0.9),
        floor_radius=0.8,
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


def build_cases(
    experiment: str,
    preset: Preset,
    sources: list[ImageSource],
    *,
    steps: int,
    seeds: list[int],
) -> list[Case]:
    """Expand ``preset`` into the cases of one experiment, in a stable order.

    The strength and radius sweeps repeat every case over ``seeds``; the floor is seed-free.
    """
    if experiment == "floor":
        return [Case("floor", src, preset.floor_radius, None, None, steps) for src in sources]
    if experiment == "strength":
        grid = [(preset.strength_radius, s) for s in preset.strengths]
    elif experiment == "radius":
        grid = [(r, s) for s in preset.radius_strengths for r in preset.radii]
    else:
        raise ValueError(f"unknown experiment {experiment!r}; expected one of {', '.join(EXPERIMENTS)}")
    cases = [
        Case(experiment, src, radius, strength, seed, steps)
        for src in sources
        for radius, strength in grid
        for seed in seeds
    ]
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{experiment} sweep of preset {preset.name!r} has duplicate case ids")
    return cases
