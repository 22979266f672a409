"""``Inpainter`` on the embedded pipelines: sizes, determinism, batching, paste-back, latents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.pipelines import Inpainter, NonFiniteOutputError, SchedulerError, Timing, load_inpainter

CALL = dict(strength=0.5, seed=0, steps=4)


def mse_outside(original: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float:
    """Leakage as DESIGN.md defines it, computed here independently of ``harness.metrics``."""
    difference = output.astype(np.float64) - original.astype(np.float64)
    return float(np.mean(difference[~mask] ** 2))


def test_output_has_the_input_size_and_dtype_for_a_non_square_image(tiny, small_image, small_mask):
    output = tiny.inpaint(small_image, small_mask, **CALL)
    assert output.shape == small_image.shape == (64, 96, 3)
    assert output.dtype == np.uint8


def test_without_paste_back_pixels_outside_the_mask_change(tiny, small_image, small_mask):
    output = tiny.inpaint(small_image, small_mask, **CALL)
    assert mse_outside(small_image, output, small_mask) > 0.0


def test_paste_back_leaves_the_outside_exactly_unchanged(tiny, small_image, small_mask):
    output = tiny.inpaint(small_image, small_mask, **CALL, paste_back=True)
    assert mse_outside(small_image, output, small_mask) == 0.0
    assert not np.array_equal(output[small_mask], small_image[small_mask])


def test_identical_calls_give_identical_bytes(tiny, small_image, small_mask):
    first = tiny.inpaint(small_image, small_mask, **CALL)
    second = tiny.inpaint(small_image, small_mask, **CALL)
    assert first.tobytes() == second.tobytes()


def test_different_seeds_give_different_outputs(tiny, small_image, small_mask):
    first = tiny.inpaint(small_image, small_mask, strength=0.5, seed=0, steps=4)
    second = tiny.inpaint(small_image, small_mask, strength=0.5, seed=1, steps=4)
    assert not np.array_equal(first, second)


def test_batch_matches_single_calls_within_one_level(tiny, small_image, small_mask):
    box = np.zeros_like(small_mask)
    box[8:40, 16:72] = True
    masks = [small_mask, box, ~small_mask]
    seeds = [0, 1, 2]
    batch = tiny.inpaint_batch([small_image] * 3, masks, strength=0.5, seeds=seeds, steps=4)
    assert tiny.last_timing.steps == int(4 * 0.5) + 1  # per image: PLMS repeats its first timestep
    for output, mask, seed in zip(batch, masks, seeds):
        single = tiny.inpaint(small_image, mask, strength=0.5, seed=seed, steps=4)
        assert np.abs(output.astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize(("steps", "strength"), [(4, 1.0), (4, 0.5), (10, 0.3), (5, 0.2)])
def test_timing_counts_pndm_steps_as_the_kept_steps_plus_one(tiny, small_image, small_mask, steps, strength):
    tiny.inpaint(small_image, small_mask, strength=strength, seed=0, steps=steps)
    timing = tiny.last_timing
    assert isinstance(timing, Timing)
    assert timing.steps == int(steps * strength) + 1 == tiny.plan(steps, strength).evaluations  # PLMS repeats one
    assert timing.seconds > 0.0


def _record_vae_encodings(monkeypatch, inpainter: Inpainter) -> list:
    """Wrap the pipeline's VAE encoder call; the first recorded tensor is the image latents."""
    pipe = inpainter.pipe
    original = pipe._encode_vae_image
    recorded = []

    def recording(image, generator):
        latents = original(image, generator=generator)
        recorded.append(latents.clone())
        return latents

    monkeypatch.setattr(pipe, "_encode_vae_image", recording)
    return recorded


def _final_latents_and_mask(inpainter: Inpainter, image, mask, monkeypatch, strength: float = 0.5):
    """Run one call, returning (first VAE encoding, final latents, latent mask).

    The first encoding is the image's latents whenever the pipeline encodes the image: always
    for 4 channels (it needs them for the paste-back), for 9 channels when strength < 1."""
    recorded = _record_vae_encodings(monkeypatch, inpainter)
    seen = {}

    def capture(pipe, step, timestep, tensors):
        seen.update({name: tensor.clone() for name, tensor in tensors.items()})
        return tensors

    pipe_call = type(inpainter.pipe).__call__

    def call_with_capture(pipe, *args, **kwargs):
        kwargs["callback_on_step_end"] = _chain(kwargs["callback_on_step_end"], capture)
        kwargs["callback_on_step_end_tensor_inputs"] = ["latents", "mask"]
        return pipe_call(pipe, *args, **kwargs)

    monkeypatch.setattr(type(inpainter.pipe), "__call__", call_with_capture)
    inpainter.inpaint(image, mask, strength=strength, seed=0, steps=4)
    latent_mask = seen["mask"][:1] > 0.5
    return recorded[0], seen["latents"], latent_mask.expand_as(seen["latents"])


def _chain(first, second):
    def both(pipe, step, timestep, tensors):
        return second(pipe, step, timestep, first(pipe, step, timestep, tensors))

    return both


def test_tiny_runs_the_legacy_paste_back_in_latents(tiny, small_image, small_mask, monkeypatch):
    assert tiny.denoiser_in_channels == 4
    image_latents, final, latent_mask = _final_latents_and_mask(tiny, small_image, small_mask, monkeypatch)
    assert latent_mask.any() and not latent_mask.all()
    assert bool((final[~latent_mask] == image_latents[~latent_mask]).all())
    assert not bool((final[latent_mask] == image_latents[latent_mask]).all())


def test_tiny_9ch_regenerates_the_outside_latents(tiny_9ch, small_image, small_mask, monkeypatch):
    assert tiny_9ch.denoiser_in_channels == 9
    image_latents, final, latent_mask = _final_latents_and_mask(tiny_9ch, small_image, small_mask, monkeypatch)
    assert not bool((final[~latent_mask] == image_latents[~latent_mask]).any())


def test_tiny_9ch_output_has_the_input_size(tiny_9ch, small_image, small_mask):
    output = tiny_9ch.inpaint(small_image, small_mask, **CALL)
    assert output.shape == small_image.shape and output.dtype == np.uint8


def test_zero_step_strength_fails_before_any_work(tiny, small_image, small_mask, monkeypatch):
    def no_call(*args, **kwargs):
        raise AssertionError("the pipeline was called")

    monkeypatch.setattr(type(tiny.pipe), "__call__", no_call)
    with pytest.raises(ValueError, match=r"strength 0\.05 with 10 steps leaves 0 denoising steps in "
                                         r"StableDiffusionInpaintPipeline\.get_timesteps with PNDMScheduler"):
        tiny.inpaint(small_image, small_mask, strength=0.05, seed=0, steps=10)


def test_a_failed_call_leaves_no_stale_timing(tiny, small_image, small_mask):
    tiny.inpaint(small_image, small_mask, strength=0.5, seed=0, steps=4)
    assert tiny.last_timing is not None
    with pytest.raises(ValueError):
        tiny.inpaint(small_image, small_mask, strength=0.05, seed=0, steps=10)
    assert tiny.last_timing is None  # the failed call must not report the previous call's seconds


def test_size_not_a_multiple_of_the_vae_factor_is_rejected(tiny, small_image, small_mask):
    with pytest.raises(ValueError, match=r"60x96 is not a multiple of the pipeline's size multiple 8"):
        tiny.inpaint(small_image[:60], small_mask[:60], **CALL)


@pytest.mark.parametrize(
    ("image", "mask", "message"),
    [
        (np.zeros((64, 96, 3), np.float32), np.zeros((64, 96), bool), "uint8 HxWx3"),
        (np.zeros((64, 96, 3), np.uint8), np.zeros((64, 96), np.uint8), "bool array of shape"),
        (np.zeros((64, 96, 3), np.uint8), np.zeros((64, 88), bool), "bool array of shape"),
    ],
)
def test_bad_arrays_are_rejected(tiny, image, mask, message):
    with pytest.raises(ValueError, match=message):
        tiny.inpaint(image, mask, **CALL)


def test_batch_needs_one_size_and_matching_lengths(tiny, small_image, small_mask):
    with pytest.raises(ValueError, match="as many masks and seeds"):
        tiny.inpaint_batch([small_image], [small_mask], strength=0.5, seeds=[0, 1], steps=4)
    with pytest.raises(ValueError, match="one image size"):
        tiny.inpaint_batch([small_image, small_image[:56]], [small_mask, small_mask[:56]],
                           strength=0.5, seeds=[0, 1], steps=4)


def test_vae_roundtrip_keeps_the_size_and_is_deterministic(tiny, small_image):
    first = tiny.vae_roundtrip(small_image)
    assert first.shape == small_image.shape and first.dtype == np.uint8
    assert tiny.last_timing.steps == 0
    assert first.tobytes() == tiny.vae_roundtrip(small_image).tobytes()


def test_non_finite_pipeline_output_raises(tiny, small_image, small_mask, monkeypatch):
    pipe_call = type(tiny.pipe).__call__

    def poisoned(pipe, *args, **kwargs):
        result = pipe_call(pipe, *args, **kwargs)
        result.images[0][0, 0, 0] = np.nan
        return result

    monkeypatch.setattr(type(tiny.pipe), "__call__", poisoned)
    with pytest.raises(NonFiniteOutputError, match="1 non-finite"):
        tiny.inpaint(small_image, small_mask, **CALL)


@pytest.mark.parametrize("fixture", ["tiny", "tiny_9ch"])
def test_generated_latents_stay_in_the_latent_distribution(fixture, request, monkeypatch):
    """The embedded UNets are trained denoisers: what they generate inside the mask has about the
    spread of real latents. A random UNet gives a std of ~3-9, and the decoder's GroupNorm then
    spreads that over the whole image as fake leakage."""
    from harness import images

    inpainter = request.getfixturevalue(fixture)
    image = images.prepare(images.load_bundled("astronaut"), max_side=128, multiple=8)
    rows, cols = np.ogrid[:128, :128]
    mask = (rows - 63.5) ** 2 + (cols - 63.5) ** 2 <= 40**2
    _, final, latent_mask = _final_latents_and_mask(inpainter, image, mask, monkeypatch, strength=1.0)
    vae = inpainter.pipe.vae
    with torch.inference_mode():
        pixels = inpainter.pipe.image_processor.preprocess(image[None].astype(np.float32) / 255.0)
        real = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
    assert 0.5 * float(real.std()) < float(final[latent_mask].std()) < 2.0 * float(real.std())


def test_use_scheduler_switches_class_keeps_the_schedule_and_shows_in_the_fingerprint():
    inpainter = load_inpainter("tiny", device="cpu")
    shipped = inpainter.pipe.scheduler
    before = inpainter.fingerprint()
    inpainter.use_scheduler("PNDMScheduler")  # already PNDM: nothing changes
    assert inpainter.pipe.scheduler is shipped and inpainter.fingerprint() == before
    inpainter.use_scheduler("DDIMScheduler")
    after = inpainter.fingerprint()
    assert after["scheduler_class"] == "DDIMScheduler"
    assert after["scheduler_config"]["beta_schedule"] == before["scheduler_config"]["beta_schedule"]
    inpainter.use_scheduler("model")
    assert inpainter.pipe.scheduler is shipped
    with pytest.raises(SchedulerError, match="unknown scheduler 'PNDM'; did you mean PNDMScheduler"):
        inpainter.use_scheduler("PNDM")
    with pytest.raises(SchedulerError, match="FlowMatchEulerDiscreteScheduler does not fit StableDiffusionInpaintPipeline"):
        inpainter.use_scheduler("FlowMatchEulerDiscreteScheduler")
    assert inpainter.pipe.scheduler is shipped  # a refused swap changes nothing


def test_plan_is_remembered_per_scheduler_and_follows_a_swap():
    inpainter = load_inpainter("tiny", device="cpu")
    pndm = inpainter.plan(10, 0.5)
    assert inpainter.plan(10, 0.5) is pndm and pndm.evaluations == 6  # PLMS evaluates one step twice
    inpainter.use_scheduler("DDIMScheduler")
    assert inpainter.plan(10, 0.5).evaluations == 5
    inpainter.pipe.scheduler = inpainter.pipe.scheduler.__class__.from_config(inpainter.pipe.scheduler.config,
                                                                             timestep_spacing="trailing")
    assert inpainter.plan(10, 0.5) is not pndm  # set by hand: planned again
    inpainter.use_scheduler("model")
    assert inpainter.plan(10, 0.5) == pndm


def test_padding_mask_crop_pastes_the_crop_back_over_the_original(tiny, small_image, small_mask):
    # StableDiffusionInpaintPipeline.__call__ takes padding_mask_crop (read from its signature)
    assert tiny.accepts("padding_mask_crop") and not tiny.accepts("no_such_argument")
    output = tiny.inpaint(small_image, small_mask, **CALL, padding_mask_crop=8)
    assert output.shape == small_image.shape and output.dtype == np.uint8
    assert mse_outside(small_image, output, small_mask) == 0.0  # apply_overlay keeps the outside exactly
    assert not np.array_equal(output[small_mask], small_image[small_mask])
    assert tiny.last_timing.steps > 0


def test_padding_mask_crop_on_a_pipeline_without_it_is_a_clear_error(tiny, small_image, small_mask, monkeypatch):
    monkeypatch.setattr(tiny, "accepts", lambda name: False)
    with pytest.raises(ValueError, match="StableDiffusionInpaintPipeline.__call__ takes no padding_mask_crop"):
        tiny.inpaint(small_image, small_mask, **CALL, padding_mask_crop=8)
