"""``Inpainter``: one loaded pipeline, called on harness arrays, deterministic per seed."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import schedulers
from .convert import check_case, check_image, to_pil_image, to_pil_mask, to_uint8
from .families import Family, StepPlan, adapter_for
from .fingerprint import hash_files, pipeline_fingerprint
from .timing import StepCounter, Stopwatch, Timing

if TYPE_CHECKING:
    from .source import PipelineSource

__all__ = ["Inpainter"]


class Inpainter:
    """A loaded diffusers inpainting pipeline with the harness's calling convention.

    Create it with :func:`harness.pipelines.load_inpainter`. Images are ``uint8`` HxWx3, masks
    ``bool`` HxW with True where the pipeline repaints. Each call seeds its own
    ``torch.Generator`` on the pipeline's device, so identical calls give identical bytes (with
    the same torch thread count). What differs between pipeline classes is asked of the
    family adapter (:mod:`harness.pipelines.families`), so this class is the same for all.

    Attributes
    ----------
    ref, device, dtype:
        The reference as given, and the resolved device (``"cpu"``, ``"cuda:N"``) and dtype.
    family:
        The adapter of the pipeline's family (``family.name``: ``"sd"``, ``"flux"``, ...).
    vae_scale_factor:
        Pixels per latent cell along each side (8 for every supported family).
    size_multiple:
        Sides must be multiples of this: the VAE factor, or twice it for pipelines that pack
        2x2 latent patches (SD3, Flux): prepare images with it.
    denoiser_in_channels:
        Input channels of the UNet or transformer: 4 for SD's legacy paste-back path, 9 for an
        SD inpainting UNet that sees mask and masked image.
    last_timing:
        :class:`Timing` of the most recent ``inpaint``/``inpaint_batch``/``vae_roundtrip`` call.
    """

    def __init__(self, pipe: Any, *, source: "PipelineSource", device: str, dtype: str,
                 family: Family | None = None) -> None:
        self.pipe = pipe
        self.source = source
        self.ref = source.ref
        self.device = device
        self.dtype = dtype
        self.family = family or adapter_for(pipe)
        self.vae_scale_factor = int(pipe.vae_scale_factor)
        self.size_multiple = self.family.size_multiple()
        self.denoiser_in_channels = self.family.denoiser_in_channels
        self.last_timing: Timing | None = None
        self._model_scheduler = pipe.scheduler
        self._weights_sha256: str | None = None
        self._plans: tuple[Any, dict] = (None, {})  # (the scheduler they are for, (steps, strength) -> plan)

    def __repr__(self) -> str:
        return (f"Inpainter(ref={self.ref!r}, class={type(self.pipe).__name__}, device={self.device!r}, "
                f"dtype={self.dtype!r}, scheduler={type(self.pipe.scheduler).__name__})")

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
            For bad arrays, a size that is not a multiple of :attr:`size_multiple`, or a
            strength the pipeline refuses (no denoising step left; checked before any work).
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
        """One call with ``padding_mask_crop``: the family's arguments, but one PIL image and mask
        rather than lists and PIL output, as diffusers' ``check_inputs`` demands there; the
        pipeline pastes its crop over the original with ``image_processor.apply_overlay``."""
        if not self.accepts("padding_mask_crop"):
            raise ValueError(f"{type(self.pipe).__name__}.__call__ takes no padding_mask_crop")
        self.last_timing = None
        self._check_batch([image], [mask], [seed], strength=strength, steps=steps)
        import torch

        height, width = image.shape[:2]
        counter = StepCounter()
        arguments = self.family.call_arguments(
            prompts=[prompt], images=[to_pil_image(image)], masks=[to_pil_mask(mask)], height=height, width=width,
            strength=strength, steps=steps, guidance_scale=guidance_scale, generators=[self._generator(seed)],
            counter=counter,
        )
        arguments.update({key: arguments[key][0] for key in ("image", "mask_image") if isinstance(arguments.get(key), list)})
        arguments.update(output_type="pil", padding_mask_crop=padding)
        with torch.inference_mode(), Stopwatch(self.device) as clock, self.family.counting(counter):
            result = self.pipe(**arguments)
        self.last_timing = Timing(seconds=clock.seconds, steps=counter.count)
        output = np.asarray(result.images[0].convert("RGB"), dtype=np.uint8)
        return np.where(mask[..., None], output, image) if paste_back else output

    def inpaint_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, strength: float,
                      seeds: Sequence[int], steps: int, guidance_scale: float = 0.0, prompt: str = "",
                      paste_back: bool = False) -> list[np.ndarray]:
        """Inpaint several same-size cases in ONE pipeline call (one prompt and generator each).

        Each output matches :meth:`inpaint` with the same seed to within float rounding of the
        batched kernels (at most 1 level). A family whose pipeline takes one image per call
        (the legacy class) gets one call per case. Same errors as :meth:`inpaint`.
        """
        self.last_timing = None  # a call that fails leaves no stale timing behind
        self._check_batch(images, masks, seeds, strength=strength, steps=steps)
        import torch

        height, width = images[0].shape[:2]
        counter = StepCounter()
        groups = [list(range(len(images)))] if self.family.batches else [[i] for i in range(len(images))]
        pixels = []
        with torch.inference_mode(), Stopwatch(self.device) as clock:
            for group in groups:
                arguments = self.family.call_arguments(
                    prompts=[prompt] * len(group), images=[to_pil_image(images[i]) for i in group],
                    masks=[to_pil_mask(masks[i]) for i in group], height=height, width=width, strength=strength,
                    steps=steps, guidance_scale=guidance_scale, generators=[self._generator(seeds[i]) for i in group],
                    counter=counter,
                )
                with self.family.counting(counter):
                    pixels.extend(self.pipe(**arguments).images)
        # denoiser evaluations per image (every call of a batch counts the same steps)
        self.last_timing = Timing(seconds=clock.seconds, steps=counter.count // len(groups))
        outputs = [to_uint8(np.asarray(p)) for p in pixels]
        if paste_back:
            outputs = [np.where(mask[..., None], out, image)
                       for out, image, mask in zip(outputs, images, masks)]
        return outputs

    def vae_roundtrip(self, image: np.ndarray) -> np.ndarray:
        """Encode ``image`` and decode it again; returns ``uint8`` of the same size.

        Uses the posterior MEAN (``latent_dist.mode()``), so it is deterministic and needs no
        seed (the pipelines encode with a seeded posterior sample; for the embedded VAE the
        posterior std is tiny, so the two differ by well under a level). The family adapter
        applies the VAE's shift and scaling and its pipeline's float16 upcasting. This is the
        floor of leakage: what the latent round trip alone changes.
        """
        self.last_timing = None
        check_image(image, self.size_multiple)
        import torch

        processor = self.pipe.image_processor
        with torch.inference_mode(), Stopwatch(self.device) as clock:
            pixels = processor.preprocess(to_pil_image(image)).to(self.device, dtype=self.pipe.vae.dtype)
            decoded = self.family.vae_roundtrip(pixels)
            result = processor.postprocess(decoded, output_type="np")
        self.last_timing = Timing(seconds=clock.seconds, steps=0)
        return to_uint8(result[0])

    def plan(self, steps: int, strength: float) -> StepPlan:
        """How the loaded pipeline spends ``steps`` at ``strength`` (its own ``get_timesteps``,
        on a fresh copy of its current scheduler). Remembered per scheduler: every call checks it,
        and building the copy took a tenth of the harness's own time in a smoke sweep."""
        scheduler, plans = self._plans
        if scheduler is not self.pipe.scheduler:  # a new one (use_scheduler, or set by hand)
            scheduler, plans = self.pipe.scheduler, {}
            self._plans = (scheduler, plans)
        key = (steps, float(strength))
        if key not in plans:
            fresh = type(scheduler).from_config(scheduler.config)
            plans[key] = self.family.plan(type(self.pipe), fresh, steps, strength)
        return plans[key]

    def use_scheduler(self, name: str) -> None:
        """Run with scheduler ``name``: ``"model"`` for the one the folder shipped, or a diffusers
        scheduler class name that fits it (built from the shipped one's config, keeping its noise
        schedule; PNDM gets ``skip_prk_steps=True`` as Stable Diffusion's configs set it).

        Raises
        ------
        SchedulerError
            A ``ValueError`` for an unknown name or one diffusers does not list as compatible.
        """
        self.pipe.scheduler = schedulers.replacement(name, self._model_scheduler, type(self.pipe).__name__)

    def fingerprint(self) -> dict:
        """JSON-serialisable identity of this pipeline: versions, ``ref``, source kind, sha256 of
        the weight/config files loaded, pipeline class and family, denoiser (class, channels,
        config hash), text encoders, scheduler class and config, VAE factors, dtype and device.
        The hash is computed once."""
        if self._weights_sha256 is None:
            self._weights_sha256 = hash_files(self.source.folder)
        return pipeline_fingerprint(self.pipe, self.family, ref=self.ref, source_kind=self.source.kind,
                                    weights_sha256=self._weights_sha256, device=self.device, dtype=self.dtype)

    def _generator(self, seed: int) -> Any:
        import torch

        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _check_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], seeds: Sequence[int],
                     *, strength: float, steps: int) -> None:
        if not len(images) or len(images) != len(masks) or len(images) != len(seeds):
            raise ValueError(f"need as many masks and seeds as images (at least one), got {len(images)} "
                             f"images, {len(masks)} masks, {len(seeds)} seeds")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength!r}")
        plan = self.plan(steps, strength)
        if self.family.refuses(plan):
            raise ValueError(f"strength {strength} with {steps} steps leaves {plan.steps} denoising steps in "
                             f"{type(self.pipe).__name__}.get_timesteps with {type(self.pipe.scheduler).__name__}; "
                             "the pipeline refuses that, so the case must be skipped")
        for image, mask in zip(images, masks):
            check_case(image, mask, self.size_multiple)
        if len({image.shape for image in images}) > 1:
            sizes = sorted({image.shape[:2] for image in images})
            raise ValueError(f"a batch needs one image size, got {sizes}")
