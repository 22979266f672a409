"""A pipeline resolved without its weights: folder, class, family, scheduler, and its step rule.

Everything here reads only ``model_index.json`` and ``scheduler/scheduler_config.json``, so a
session can refuse a pipeline it cannot measure, and decide which strengths leave zero steps,
before any weights load. The class comes from ``--leak-pipeline-class``, else the folder's own
class when a family adapter drives it, else what ``AutoPipelineForInpainting`` would pick for it.
diffusers is imported only when that mapping, a scheduler swap or the step rule needs it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schedulers
from .errors import PipelineLoadError
from .families import FAMILIES, REFUSED, Family, StepPlan, UnsupportedPipelineError, family_for_class, refusal
from .source import PipelineSource, resolve_source

__all__ = ["PipelineSpec", "resolve_spec", "inpainting_class"]


@dataclass(frozen=True)
class PipelineSpec:
    """What will be loaded and how it steps, known before loading.

    Attributes
    ----------
    source:
        Where the folder is.
    pipeline_class:
        The diffusers class that will load it.
    family:
        Its adapter class.
    model_scheduler:
        The scheduler class the folder ships.
    scheduler:
        The scheduler class that will run (``model_scheduler`` unless one was asked for).
    scheduler_config:
        The folder's scheduler config (a replacement is built from it).
    """

    source: PipelineSource
    pipeline_class: str
    family: type[Family]
    model_scheduler: str
    scheduler: str
    scheduler_config: dict
    _plans: dict = field(default_factory=dict, compare=False, repr=False)

    def pipeline_type(self) -> type:
        """The diffusers pipeline class (imports diffusers).

        Raises
        ------
        UnsupportedPipelineError
            If the installed diffusers no longer has it (the legacy class is deprecated).
        """
        try:
            return self.family.load_class()
        except AttributeError:
            import diffusers

            raise UnsupportedPipelineError(
                f"pipeline class {self.pipeline_class} is not in the installed diffusers {diffusers.__version__}"
            ) from None

    def make_scheduler(self) -> Any:
        """A fresh instance of the scheduler that will run, built from the folder's config."""
        model = schedulers.scheduler_type(self.model_scheduler).from_config(self.scheduler_config)
        return schedulers.replacement(self.scheduler, model, self.pipeline_class)

    def plan(self, steps: int, strength: float) -> StepPlan:
        """The pipeline's own step count at ``strength`` (see :meth:`Family.plan`), cached."""
        key = (int(steps), float(strength))
        if key not in self._plans:
            self._plans[key] = self.family.plan(self.pipeline_type(), self.make_scheduler(), steps, strength)
        return self._plans[key]

    def refuses(self, steps: int, strength: float) -> bool:
        """Whether the pipeline would refuse (or run no step at) ``strength``."""
        return self.family.refuses(self.plan(steps, strength))

    def rule(self) -> str:
        """Where the step count comes from, for messages."""
        return f"{self.pipeline_class}.get_timesteps with {self.scheduler}"


def resolve_spec(ref: str | os.PathLike, *, pipeline_class: str | None = None, scheduler: str = schedulers.MODEL,
                 download: bool = True) -> PipelineSpec:
    """Resolve ``ref`` into a :class:`PipelineSpec` without loading weights.

    Parameters
    ----------
    ref:
        As for :func:`harness.pipelines.load_inpainter`.
    pipeline_class:
        A supported diffusers class to load the folder with, instead of the one it names.
    scheduler:
        ``"model"`` or a diffusers scheduler class name that fits the model.
    download:
        Whether a hub id missing from the cache may be downloaded (else :class:`NotCachedError`).

    Raises
    ------
    PipelineLoadError
        For a missing folder or id, an unreadable ``model_index.json``, or an unsupported class
        (:class:`UnsupportedPipelineError`, naming the class and why).
    SchedulerError
        For an unknown scheduler or one that does not fit the model.
    """
    if pipeline_class is not None:
        family_for_class(pipeline_class)  # refuse a bad name before looking for the folder
    source = resolve_source(ref, download=download)
    index = _read_json(source.folder / "model_index.json", ref)
    folder_class = index.get("_class_name")
    if not isinstance(folder_class, str):
        raise PipelineLoadError(f"{source.folder / 'model_index.json'} names no pipeline class (_class_name)")
    chosen = pipeline_class or inpainting_class(folder_class, where=str(source.folder / "model_index.json"))
    family = family_for_class(chosen)
    config = _read_json(source.folder / "scheduler" / "scheduler_config.json", ref)
    model_scheduler = config.get("_class_name") or (index.get("scheduler") or [None, None])[1]
    if not isinstance(model_scheduler, str):
        raise PipelineLoadError(f"{source.folder / 'scheduler' / 'scheduler_config.json'} names no scheduler class")
    running = model_scheduler if scheduler == schedulers.MODEL else scheduler
    if running != model_scheduler:
        model = schedulers.scheduler_type(model_scheduler).from_config(config)
        schedulers.check_fits(running, model, chosen)
    return PipelineSpec(source, chosen, family, model_scheduler, running, config)


def inpainting_class(folder_class: str, *, where: str = "model_index.json") -> str:
    """The inpainting class for a folder whose ``model_index.json`` names ``folder_class``.

    A class a family adapter drives is used as it is; a known-refused one is refused without
    importing diffusers; any other is looked up as ``AutoPipelineForInpainting.from_pretrained``
    does (``_get_task_class`` over ``AUTO_INPAINT_PIPELINES_MAPPING``), e.g. ``FluxPipeline`` ->
    ``FluxInpaintPipeline``.

    Raises
    ------
    UnsupportedPipelineError
        Naming the class (and the one it maps to) and why it is not supported.
    """
    if folder_class in FAMILIES:
        return folder_class
    if any(re.search(pattern, folder_class) for pattern, _ in REFUSED):
        raise UnsupportedPipelineError(f"{refusal(folder_class)} (named in {where})")
    from diffusers.pipelines.auto_pipeline import AUTO_INPAINT_PIPELINES_MAPPING, _get_task_class

    try:
        mapped = _get_task_class(AUTO_INPAINT_PIPELINES_MAPPING, folder_class).__name__
    except ValueError:
        raise UnsupportedPipelineError(
            f"pipeline class {folder_class} (named in {where}) has no inpainting pipeline in diffusers' "
            "AutoPipelineForInpainting; pass --leak-pipeline-class with a supported class if it is one"
        ) from None
    if mapped not in FAMILIES:
        raise UnsupportedPipelineError(f"{refusal(mapped)} ({folder_class} in {where} maps to it)")
    return mapped


def _read_json(path: Path, ref: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineLoadError(f"{ref!r} has no {path.name} at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PipelineLoadError(f"{path} of {ref!r} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PipelineLoadError(f"{path} of {ref!r} is not a JSON object")
    return data
