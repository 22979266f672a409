"""What every family adapter answers, with the answers most diffusers inpainting pipelines share.

A :class:`Family` subclass names one diffusers pipeline class and owns what differs between
pipelines: the denoiser component, the size multiple, how the pipeline sets its timesteps (so a
strength's step count comes from the pipeline's own ``get_timesteps``), the call arguments, and
the VAE round trip. Class-level methods work without weights (from the class and a scheduler
built from its config); an instance wraps a loaded pipeline.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, ClassVar, ContextManager

__all__ = ["Family", "StepPlan", "config_sha256"]


@dataclass(frozen=True)
class StepPlan:
    """How a pipeline spends ``steps`` at one strength, read from its own timestep code.

    Attributes
    ----------
    steps:
        The pipeline's own count after the strength (``get_timesteps``' second value); the
        pipelines raise when it is below 1.
    evaluations:
        Timesteps its denoising loop runs over (``get_timesteps``' first value): denoiser calls
        per image, what :class:`~harness.pipelines.Timing` counts. PNDM's PLMS repeats its first
        timestep, so there it is ``steps + 1``.
    """

    steps: int
    evaluations: int


# Config keys that say where or with which library version a config was written, not what it computes.
_UNHASHED_KEYS = ("_name_or_path", "_commit_hash", "_diffusers_version", "transformers_version", "torch_dtype", "dtype")


def config_sha256(config: Any) -> str:
    """sha256 of a diffusers or transformers config as sorted JSON, less location/version keys."""
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    kept = {k: v for k, v in data.items() if k not in _UNHASHED_KEYS}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Family:
    """Adapter for one diffusers inpainting pipeline class (subclass per family).

    Class attributes
    ----------------
    name:
        Short family name (``"sd"``, ``"flux"``), recorded in the fingerprint.
    pipeline_class:
        The diffusers class name this adapter drives.
    denoiser:
        The component that denoises: ``"unet"`` or ``"transformer"``.
    upcasts_vae:
        Whether the pipeline runs a float16 VAE in float32 when its config says ``force_upcast``
        (SDXL's does); the VAE round trip then does the same.
    batches:
        Whether one call takes a list of images (the legacy pipeline takes one image per call).
    deprecated:
        Whether diffusers may have removed the class (then a session checks it is there).
    """

    name: ClassVar[str]
    pipeline_class: ClassVar[str]
    denoiser: ClassVar[str] = "unet"
    upcasts_vae: ClassVar[bool] = False
    batches: ClassVar[bool] = True
    deprecated: ClassVar[bool] = False
    # Arguments every call needs; a pipeline whose signature lacks one cannot be measured.
    REQUIRED_ARGUMENTS: ClassVar[tuple[str, ...]] = (
        "prompt", "image", "mask_image", "strength", "num_inference_steps", "guidance_scale", "generator",
        "output_type",
    )

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self._accepted = set(inspect.signature(type(pipe).__call__).parameters)
        missing = [name for name in self.REQUIRED_ARGUMENTS if name not in self._accepted]
        if missing:
            raise TypeError(f"{type(pipe).__name__}.__call__ takes no {', '.join(missing)}: "
                            "the harness cannot call it as an inpainting pipeline")

    # -- without weights: the pipeline class and a scheduler -------------------------------------

    @classmethod
    def load_class(cls) -> type:
        """The diffusers pipeline class (imports diffusers)."""
        import diffusers

        return getattr(diffusers, cls.pipeline_class)

    @classmethod
    def set_timesteps(cls, pipeline_type: type, scheduler: Any, steps: int) -> int:
        """Set ``scheduler``'s timesteps as ``pipeline_type.__call__`` does; return the step count
        it then hands to ``get_timesteps``.

        Default: the ``retrieve_timesteps`` of the pipeline's own module with no custom
        timesteps or sigmas (what SD 1.x/2.x and SDXL inpainting call).
        """
        _, count = _module_function(pipeline_type, "retrieve_timesteps")(scheduler, steps, "cpu")
        return int(count)

    @classmethod
    def plan(cls, pipeline_type: type, scheduler: Any, steps: int, strength: float) -> StepPlan:
        """The pipeline's own step count for ``strength``: its ``get_timesteps`` run on ``scheduler``.

        ``get_timesteps`` only reads ``self.scheduler``, so it runs on a stand-in holding the
        scheduler instead of a pipeline with weights. ``scheduler`` is modified (timesteps set).
        Deprecation warnings of the scheduler's internals are not the user's to act on here (it
        runs at collection, where a warnings-as-errors setting would break it).
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            count = cls.set_timesteps(pipeline_type, scheduler, steps)
            stand_in = SimpleNamespace(scheduler=scheduler)
            timesteps, kept = pipeline_type.get_timesteps(stand_in, count, strength, "cpu")
        return StepPlan(steps=int(kept), evaluations=len(timesteps))

    @classmethod
    def refuses(cls, plan: StepPlan) -> bool:
        """Whether the pipeline refuses a call with this plan. The supported pipelines raise
        ``ValueError`` when fewer than 1 step is left after the strength."""
        return plan.steps < 1

    # -- with a loaded pipeline --------------------------------------------------------------------

    @property
    def denoiser_module(self) -> Any:
        return getattr(self.pipe, self.denoiser)

    @property
    def denoiser_in_channels(self) -> int:
        return int(self.denoiser_module.config.in_channels)

    def size_multiple(self) -> int:
        """Sides must be multiples of this; the VAE scale factor for unpacked latents."""
        return int(self.pipe.vae_scale_factor)

    def outside(self) -> str:
        """What the pipeline does to the latents outside the mask (for the fingerprint)."""
        if self.denoiser_in_channels == int(self.pipe.vae.config.latent_channels):
            return "original latents pasted back at every step"
        return "nothing pasted back: the denoiser sees the mask and regenerates everything"

    def call_arguments(self, *, prompts: list[str], images: list, masks: list, height: int, width: int,
                       strength: float, steps: int, guidance_scale: float, generators: list,
                       counter: Callable) -> dict:
        """Keyword arguments for one pipeline call, limited to what its signature accepts.

        ``height``/``width`` are passed where accepted (without them a pipeline returns its
        default size, not the input's); ``counter`` goes in as ``callback_on_step_end``.
        """
        arguments = dict(prompt=prompts, image=images, mask_image=masks, strength=strength,
                         num_inference_steps=steps, guidance_scale=guidance_scale, generator=generators,
                         output_type="np")
        if {"height", "width"} <= self._accepted:
            arguments.update(height=height, width=width)
        arguments["callback_on_step_end"] = counter
        return arguments

    def counting(self, counter: Any) -> ContextManager:
        """Where ``counter`` counts besides the call arguments (nothing: it is the step callback)."""
        return contextlib.nullcontext()

    def vae_roundtrip(self, pixels: Any) -> Any:
        """Encode ``pixels`` (the image processor's tensor) to the posterior mode and decode it.

        The latents go through the VAE's own shift and scaling on the way in and out, as the
        pipeline hands them to the denoiser and back, so the two cancel; a float16 VAE whose
        config says ``force_upcast`` runs in float32 where the pipeline does that too.
        """
        import torch

        vae = self.pipe.vae
        dtype = vae.dtype
        upcast = self.upcasts_vae and dtype == torch.float16 and bool(vae.config.get("force_upcast", False))
        work = torch.float32 if upcast else dtype
        if upcast:
            vae.to(torch.float32)
        try:
            latents = vae.encode(pixels.to(work)).latent_dist.mode()
            shift = vae.config.get("shift_factor") or 0.0
            scale = vae.config.scaling_factor
            latents = (latents - shift) * scale
            return vae.decode(latents / scale + shift).sample
        finally:
            if upcast:
                vae.to(dtype)

    def describe(self) -> dict:
        """The fingerprint's family entries: family, denoiser, text encoders, VAE factors."""
        module = self.denoiser_module
        encoders = {
            name: {"class": type(component).__name__, "config_sha256": config_sha256(component.config)}
            for name, component in sorted(self.pipe.components.items())
            if name.startswith("text_encoder") and component is not None
        }
        vae = self.pipe.vae
        return {
            "family": self.name,
            "denoiser": {"component": self.denoiser, "class": type(module).__name__,
                         "in_channels": self.denoiser_in_channels, "config_sha256": config_sha256(module.config)},
            "text_encoders": encoders,
            "outside": self.outside(),
            "size_multiple": self.size_multiple(),
            "vae_scale_factor": int(self.pipe.vae_scale_factor),
            "vae_scaling_factor": float(vae.config.scaling_factor),
            "vae_shift_factor": vae.config.get("shift_factor"),
        }


def _module_function(pipeline_type: type, name: str) -> Callable:
    """A function of the module that defines ``pipeline_type`` (``retrieve_timesteps``): the
    pipeline's own copy, which may differ between pipelines."""
    return getattr(importlib.import_module(pipeline_type.__module__), name)
