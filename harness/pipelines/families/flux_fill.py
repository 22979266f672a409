"""Flux Fill (``FluxFillPipeline``): the transformer sees the masked image and the mask.

Timesteps, sizes and the VAE as :class:`~.flux.Flux`; nothing is pasted back, the model
regenerates everything. ``AutoPipelineForInpainting`` does not map it: load a FLUX.1-Fill folder
(its ``model_index.json`` names this class) or pass ``--leak-pipeline-class FluxFillPipeline``.
"""

from __future__ import annotations

from .flux import Flux

__all__ = ["FluxFill"]


class FluxFill(Flux):
    name = "flux-fill"
    pipeline_class = "FluxFillPipeline"

    def outside(self) -> str:
        return "nothing pasted back: the transformer sees the mask and regenerates everything"
