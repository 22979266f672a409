"""``Inpainter``: one loaded pipeline, called on harness arrays, deterministic per seed."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .convert import check_case, check_image, to_pil_image, to_pil_mask, to_uint8
from .fingerprint import hash_files, pipeline_fingerprint
from .steps import steps_run
from .timing import StepCounter, Stopwatch, Timing

if TYPE_CHECKING:
    from .source import PipelineSource

__all__ = ["Inpainter", "SCHEDULERS"]

#: Scheduler names a preset may ask for -> diffusers class names.
SCHEDULERS = {"PNDM": "PNDMScheduler", "DDIM": "DDIMScheduler", "Euler": "EulerDiscreteScheduler"}


class Inpainter:
    """A loaded diffusers inpainting pipeline with the harness's calling convention.

    Create it with :func:`harness.pipelines.load_inpainter`. Images are ``uint8`` HxWx3, masks
    ``bool`` HxW with True where the pipeline repaints. Each call seeds its own
    ``torch.Generator`` on the pipeline's device, so identical calls give identical bytes (with
    the same torch thread count).

    Attributes
    ----------
    ref, device, dtype:
        The reference as given, and the resolved device (``"cpu"``, ``"cuda:N"``) and dtype.
    vae_scale_factor:
        Pixels per latent cell along each side (8 for SD-like VAEs); sizes must be multiples.
    unet_in_channels:
        4: legacy inpainting (original latents pasted back outside the mask at every step);
        9: an inpainting UNet that sees mask and masked image and regenerates everything.
    last_timing:
        :class:`Timing` of the most recent ``inpaint``/``inpaint_batch``/``vae_roundtrip`` call.
    """

    def __init__(self, pipe: Any, *, source: "PipelineSource", device: str, dtype: str) -> None:
        self.pipe = pipe
        self.source = source
        self.ref = source.ref
        self.device = device
        self.dtype = dtype
        self.vae_scale_factor = int(pipe.vae_scale_factor)
        self.unet_in_channels = int(pipe.unet.config.in_channels)
        self.last_timing: Timing | None = None
        self._weights_sha256: str | None = None

    def __repr__(self) -> str:
        return (f"Inpainter(ref={self.ref!r}, device={self.device!r}, dtype={self.dtype!r}, "
                f"unet_in_channels={self.unet_in_channels})")

    def accepts(self, argument: str) -> bool:
        """Whether the pipeline's ``__call__`` takes ``argument`` (diffusers' pipelines differ)."""
        return argument in inspect.signature(self.pipe.__call__).parameters

    def inpaint(self, image: np.ndarray, mask: np.ndarray, *, strength: float, seed: int, steps: int,
                guidance_scale: float = 0.0, prompt: str = "", paste_back: bool = False,
                padding_mask_crop: int | None = None) -> np.ndarray:
        """Inpaint one image; returns ``uint8`` HxWx3 of the input's size.

        ``paste_back=True`` copies the original pixels back outside the mask afterwards, so the
        outside is unchanged exactly (the control case: leakage must be 0). ``padding_mask_crop``
        is passed to pipelines that take it (see :meth:`accepts`): they inpaint the mask's
        bounding box grown by that many pixels and paste the result back over the original.

        Raises
        ------
        ValueError
            For bad arrays, a size that is not a multiple of :attr:`vae_scale_factor`, or a
            strength that leaves zero denoising steps (checked before any work).
        NonFiniteOutputError
            If the pipeline output holds NaN or infinite values.
        """
        if padding_mask_crop is not None:
            return self._inpaint_cropped(image, mask, padding_mask_crop, strength=strength, seed=seed, steps=steps,
                                         guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back)
        return self.inpaint_batch([image], [mask], strength=strength, seeds=[seed], steps=steps,
                                  guidance_scale=guidance_scale, prompt=prompt, paste_back=paste_back)[0]

    def _inpaint_cropped(self, image: np.ndarray, mask: np.ndarray, padding: int, *, strength: float, seed: int,
                         steps: int, guidance_scale: float, prompt: str, paste_back: bool) -> np.ndarray:
        """One call with ``padding_mask_crop``: diffusers then wants one PIL image and mask (not
        lists) and PIL output, which ``image_processor.apply_overlay`` pastes over the original."""
        if not self.accepts("padding_mask_crop"):
            raise ValueError(f"{type(self.pipe).__name__}.__call__ takes no padding_mask_crop")
        self.last_timing = None
        self._check_batch([image], [mask], [seed], strength=strength, steps=steps)
        import torch

        height, width = image.shape[:2]
        counter = StepCounter()
        with torch.inference_mode(), Stopwatch(self.device) as clock:
            result = self.pipe(
                prompt=prompt, image=to_pil_image(image), mask_image=to_pil_mask(mask), height=height, width=width,
                strength=strength, num_inference_steps=steps, guidance_scale=guidance_scale,
                generator=self._generator(seed), output_type="pil", padding_mask_crop=padding,
                callback_on_step_end=counter,
            )
        self.last_timing = Timing(seconds=clock.seconds, steps=counter.count)
        output = np.asarray(result.images[0].convert("RGB"), dtype=np.uint8)
        return np.where(mask[..., None], output, image) if paste_back else output

    def inpaint_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, strength: float,
                      seeds: Sequence[int], steps: int, guidance_scale: float = 0.0, prompt: str = "",
                      paste_back: bool = False) -> list[np.ndarray]:
        """Inpaint several same-size cases in ONE pipeline call (one prompt and generator each).

        Each output matches :meth:`inpaint` with the same seed to within float rounding of the
        batched kernels (at most 1 level). Same errors as :meth:`inpaint`.
        """
        self.last_timing = None  # a call that fails leaves no stale timing behind
        self._check_batch(images, masks, seeds, strength=strength, steps=steps)
        import torch

        height, width = images[0].shape[:2]
        counter = StepCounter()
        with torch.inference_mode(), Stopwatch(self.device) as clock:
            result = self.pipe(
                prompt=[prompt] * len(images), image=[to_pil_image(image) for image in images],
                mask_image=[to_pil_mask(mask) for mask in masks], height=height, width=width,
                strength=strength, num_inference_steps=steps, guidance_scale=guidance_scale,
                generator=[self._generator(seed) for seed in seeds], output_type="np",
                callback_on_step_end=counter,
            )
        self.last_timing = Timing(seconds=clock.seconds, steps=counter.count)
        outputs = [to_uint8(pixels) for pixels in result.images]
        if paste_back:
            outputs = [np.where(mask[..., None], out, image)
                       for out, image, mask in zip(outputs, images, masks)]
        return outputs

    def vae_roundtrip(self, image: np.ndarray) -> np.ndarray:
        """Encode ``image`` and decode it again; returns ``uint8`` of the same size.

        Uses the posterior MEAN (``latent_dist.mode()``), so it is deterministic and needs no
        seed. (The pipeline itself encodes with a seeded posterior sample; for the embedded VAE
        the posterior std is tiny, so the two differ by well under a level.) This is the floor
        of leakage: what the latent round trip alone changes.
        """
        self.last_timing = None
        check_image(image, self.vae_scale_factor)
        import torch

        processor = self.pipe.image_processor
        with torch.inference_mode(), Stopwatch(self.device) as clock:
            pixels = processor.preprocess(to_pil_image(image)).to(self.device, dtype=self.pipe.vae.dtype)
            latents = self.pipe.vae.encode(pixels).latent_dist.mode()
            decoded = self.pipe.vae.decode(latents).sample
            result = processor.postprocess(decoded, output_type="np")
        self.last_timing = Timing(seconds=clock.seconds, steps=0)
        return to_uint8(result[0])

    def use_scheduler(self, name: str) -> None:
        """Switch the pipeline's scheduler (``"PNDM"``, ``"DDIM"``, ``"Euler"``), keeping its
        noise schedule config; a no-op when it already is that class. PNDM gets
        ``skip_prk_steps=True`` as in Stable Diffusion's own configs."""
        if name not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {name!r}; expected one of {', '.join(SCHEDULERS)}")
        import diffusers

        cls = getattr(diffusers, SCHEDULERS[name])
        if type(self.pipe.scheduler) is cls:
            return
        extra = {"skip_prk_steps": True} if name == "PNDM" else {}
        self.pipe.scheduler = cls.from_config(self.pipe.scheduler.config, **extra)

    def fingerprint(self) -> dict:
        """JSON-serialisable identity of this pipeline: versions, ``ref``, source kind, sha256 of
        the weight/config files loaded, pipeline class, UNet input channels, scheduler class and
        config, VAE scale and scaling factors, dtype and device. The hash is computed once."""
        if self._weights_sha256 is None:
            self._weights_sha256 = hash_files(self.source.folder)
        return pipeline_fingerprint(self.pipe, ref=self.ref, source_kind=self.source.kind,
                                    weights_sha256=self._weights_sha256, device=self.device, dtype=self.dtype)

    def _generator(self, seed: int) -> Any:
        import torch

        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _check_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], seeds: Sequence[int],
                     *, strength: float, steps: int) -> None:
        if not len(images) or len(images) != len(masks) or len(images) != len(seeds):
            raise ValueError(f"need as many masks and seeds as images (at least one), got {len(images)} "
                             f"images, {len(masks)} masks, {len(seeds)} seeds")
        if steps_run(steps, strength) == 0:
            raise ValueError(f"strength {strength} with {steps} steps runs int({steps} * {strength}) = 0 "
                             "denoising steps; diffusers refuses that, so the case must be skipped")
        for image, mask in zip(images, masks):
            check_case(image, mask, self.vae_scale_factor)
        if len({image.shape for image in images}) > 1:
            sizes = sorted({image.shape[:2] for image in images})
            raise ValueError(f"a batch needs one image size, got {sizes}")
