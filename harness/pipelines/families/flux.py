"""Flux inpainting (``FluxInpaintPipeline``, what ``AutoPipelineForInpainting`` gives for Flux).

A transformer over packed 2x2 latent patches: the pipeline builds its image processor with twice
the VAE factor and resizes anything else, so sides are multiples of 16. Flow matching with its
own sigmas (``linspace(1, 1/n, n)``) and a size-dependent shift; ``get_timesteps`` keeps
``n - int(n - n * strength)`` steps. The original latents are pasted back at every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Family, _module_function

__all__ = ["Flux"]


class Flux(Family):
    name = "flux"
    pipeline_class = "FluxInpaintPipeline"
    denoiser = "transformer"

    @classmethod
    def set_timesteps(cls, pipeline_type: type, scheduler: Any, steps: int) -> int:
        # as its __call__ (step 4): these sigmas, and mu from the image size; mu moves the
        # sigmas, never their count, so the base shift stands in for it
        sigmas = np.linspace(1.0, 1 / steps, steps)
        mu = scheduler.config.get("base_shift", 0.5)
        _, count = _module_function(pipeline_type, "retrieve_timesteps")(scheduler, steps, "cpu", sigmas=sigmas, mu=mu)
        return int(count)

    def size_multiple(self) -> int:
        # the factor its image processor resizes to (vae_scale_factor * 2 for the packing)
        return int(self.pipe.image_processor.config.vae_scale_factor)

    def outside(self) -> str:
        return "original latents pasted back at every step"
