"""The 2023 study's class, ``StableDiffusionInpaintPipelineLegacy`` (deprecated in diffusers).

It takes one image per call and no ``height``/``width`` (the output has the input's size, floored
to multiples of 8), has no ``callback_on_step_end`` (its old ``callback`` fires on progress-bar
updates, which skip PLMS's repeated first timestep, so the UNet's calls are counted instead), and
makes its latent mask with a PIL nearest resize (sampling block centres, where the current
pipeline's torch interpolation samples top-left corners). It sets timesteps with a plain
``scheduler.set_timesteps`` and never checks the step count: it runs whatever timesteps
``get_timesteps`` leaves, so with PNDM even a zero-step strength runs one evaluation.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .base import Family, StepPlan

__all__ = ["StableDiffusionLegacy"]


class StableDiffusionLegacy(Family):
    name = "sd-legacy"
    pipeline_class = "StableDiffusionInpaintPipelineLegacy"
    batches = False
    deprecated = True

    @classmethod
    def set_timesteps(cls, pipeline_type: type, scheduler: Any, steps: int) -> int:
        scheduler.set_timesteps(steps, device="cpu")  # its __call__, step 5
        return steps

    @classmethod
    def refuses(cls, plan: StepPlan) -> bool:
        # no check in its __call__: only an empty timestep list breaks it (timesteps[:1] is empty)
        return plan.evaluations < 1

    def outside(self) -> str:
        return "original latents pasted back at every step (latent mask by PIL nearest resize)"

    def call_arguments(self, *, prompts: list[str], images: list, masks: list, height: int, width: int,
                       strength: float, steps: int, guidance_scale: float, generators: list,
                       counter: Callable) -> dict:
        if len(images) != 1:
            raise ValueError(f"{self.pipeline_class} takes one image per call, got {len(images)}")
        return dict(prompt=prompts[0], image=images[0], mask_image=masks[0], strength=strength,
                    num_inference_steps=steps, guidance_scale=guidance_scale, generator=generators[0],
                    output_type="np")

    @contextmanager
    def counting(self, counter: Any) -> Iterator[None]:
        def tick(module: Any, args: Any) -> None:
            counter.count += 1

        handle = self.pipe.unet.register_forward_pre_hook(tick)
        try:
            yield
        finally:
            handle.remove()
