"""Stable Diffusion 3 inpainting (``StableDiffusion3InpaintPipeline``).

A transformer over 2x2 latent patches, so sides are multiples of ``vae_scale_factor x patch_size``
(16); flow matching, whose ``get_timesteps`` keeps ``n - int(n - n * strength)`` steps (a strength
that rounds down to 0 steps in SD runs 1 here). With 16 transformer channels the original latents
are pasted back at every step.
"""

from __future__ import annotations

from typing import Any

from .base import Family, _module_function

__all__ = ["StableDiffusion3"]


class StableDiffusion3(Family):
    name = "sd3"
    pipeline_class = "StableDiffusion3InpaintPipeline"
    denoiser = "transformer"

    @classmethod
    def set_timesteps(cls, pipeline_type: type, scheduler: Any, steps: int) -> int:
        # its __call__ passes mu only when the scheduler shifts dynamically; mu depends on the
        # image size and moves the sigmas, never their count, so the base shift stands in
        kwargs = {"mu": scheduler.config.get("base_shift", 0.5)} if scheduler.config.get("use_dynamic_shifting") else {}
        _, count = _module_function(pipeline_type, "retrieve_timesteps")(scheduler, steps, "cpu", sigmas=None, **kwargs)
        return int(count)

    def size_multiple(self) -> int:
        # the multiple its check_inputs demands
        return int(self.pipe.vae_scale_factor * self.pipe.patch_size)
