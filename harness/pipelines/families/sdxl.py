"""Stable Diffusion XL inpainting (``StableDiffusionXLInpaintPipeline``).

Like SD 1.x (UNet, 8x VAE, ``int(steps * strength)`` steps from its ``get_timesteps``), but its
VAE overflows in float16: the pipeline runs it in float32 when ``vae.config.force_upcast`` is set
(``needs_upcasting`` in its ``__call__``, and ``_encode_vae_image``), so the round trip does too.
"""

from __future__ import annotations

from .base import Family

__all__ = ["StableDiffusionXL"]


class StableDiffusionXL(Family):
    name = "sdxl"
    pipeline_class = "StableDiffusionXLInpaintPipeline"
    upcasts_vae = True
