"""Stable Diffusion 1.x/2.x inpainting (``StableDiffusionInpaintPipeline``), 4 or 9 UNet channels.

4 channels: the original latents are pasted back outside the latent mask at every step (what the
embedded ``tiny`` runs); 9 channels: an inpainting UNet sees mask and masked image and regenerates
everything. Every answer is the base class's.
"""

from __future__ import annotations

from .base import Family

__all__ = ["StableDiffusion"]


class StableDiffusion(Family):
    name = "sd"
    pipeline_class = "StableDiffusionInpaintPipeline"
