"""The registry of pipeline families: which adapter drives which diffusers inpainting class.

One ordered mapping from a diffusers class name to the :class:`~.base.Family` that handles it,
consulted in one place (as diffusers' ``auto_pipeline.py`` maps model names to classes). Adding a
family is one entry here and one small module. Classes known not to fit the harness are refused
with the reason; any other class falls out of the registry with the list of supported ones.
Importing this package imports neither torch nor diffusers.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import PipelineLoadError
from .base import Family, StepPlan, config_sha256
from .flux import Flux
from .flux_fill import FluxFill
from .sd3 import StableDiffusion3
from .sd_legacy import StableDiffusionLegacy
from .sdxl import StableDiffusionXL
from .stable_diffusion import StableDiffusion

__all__ = [
    "FAMILIES", "REFUSED", "Family", "StepPlan", "UnsupportedPipelineError", "adapter_for", "config_sha256",
    "family_for_class", "refusal", "StableDiffusion", "StableDiffusionLegacy", "StableDiffusionXL",
    "StableDiffusion3", "Flux", "FluxFill",
]

#: diffusers pipeline class name -> the family adapter that drives it.
FAMILIES: dict[str, type[Family]] = {
    family.pipeline_class: family
    for family in (StableDiffusion, StableDiffusionLegacy, StableDiffusionXL, StableDiffusion3, Flux, FluxFill)
}

#: (pattern on the class name, why the harness cannot measure it), first match wins.
REFUSED: tuple[tuple[str, str], ...] = (
    (r"ControlNet|Control(Inpaint)?Pipeline", "it needs a control image for every call, which a leakage "
     "case does not have"),
    (r"^Kandinsky", "Kandinsky decodes with a MoVQ and has no vae_scale_factor, and its combined inpainting "
     "pipeline has no strength, so sizes and the strength sweep cannot be set up"),
    (r"^IF", "DeepFloyd IF is a pixel-space cascade of several pipelines: there is no VAE round trip and no "
     "latent paste-back to measure"),
)


class UnsupportedPipelineError(PipelineLoadError):
    """A pipeline class the harness has no adapter for; the message names it and why."""


def refusal(class_name: str) -> str:
    """Why ``class_name`` cannot be measured: a known reason, or that no family adapter drives it."""
    for pattern, reason in REFUSED:
        if re.search(pattern, class_name):
            return f"pipeline class {class_name} is not supported: {reason}"
    return (f"pipeline class {class_name} is not supported: no family adapter drives it "
            f"(supported: {', '.join(FAMILIES)})")


def family_for_class(class_name: str) -> type[Family]:
    """The adapter class for a diffusers pipeline class name.

    Raises
    ------
    UnsupportedPipelineError
        Naming the class and why it is not supported.
    """
    if class_name not in FAMILIES:
        raise UnsupportedPipelineError(refusal(class_name))
    return FAMILIES[class_name]


def adapter_for(pipe: Any) -> Family:
    """The adapter for a loaded pipeline, chosen by its class.

    Raises
    ------
    UnsupportedPipelineError
        For a pipeline of a class outside the registry.
    """
    return family_for_class(type(pipe).__name__)(pipe)
