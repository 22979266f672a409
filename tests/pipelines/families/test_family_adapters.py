"""What each adapter answers for its loaded test pipeline: sizes, denoiser, outside, arguments."""

from __future__ import annotations

import numpy as np
import pytest

from harness.pipelines.families import config_sha256

#: folder -> (denoiser component, size multiple, pastes the original latents back at every step)
EXPECTED = {
    "sd": ("unet", 8, True), "sd-9ch": ("unet", 8, False), "sd-legacy": ("unet", 8, True),
    "sdxl": ("unet", 8, True), "sd3": ("transformer", 16, True), "flux": ("transformer", 16, True),
    "flux-fill": ("transformer", 16, False),
}


def test_denoiser_size_multiple_and_what_happens_outside(family, family_inpainters):
    inpainter = family_inpainters[family]
    denoiser, multiple, pastes_back = EXPECTED[family]
    assert inpainter.family.denoiser == denoiser and inpainter.size_multiple == multiple
    assert inpainter.vae_scale_factor == 8
    assert inpainter.family.outside().startswith("original latents pasted back") == pastes_back


def test_a_size_that_is_a_multiple_of_8_but_not_16_is_refused_for_packed_latents(family_inpainters):
    image, mask = np.zeros((24, 32, 3), np.uint8), np.zeros((24, 32), bool)
    for name in ("sd3", "flux", "flux-fill"):
        with pytest.raises(ValueError, match="24x32 is not a multiple of the pipeline's size multiple 16"):
            family_inpainters[name].inpaint(image, mask, strength=0.5, seed=0, steps=2)
    assert family_inpainters["sd"].inpaint(image, mask, strength=0.5, seed=0, steps=2).shape == (24, 32, 3)


def test_call_arguments_follow_the_signature(family_inpainters):
    common = dict(prompts=[""], images=["image"], masks=["mask"], height=16, width=32, strength=0.5, steps=4,
                  guidance_scale=0.0, generators=["generator"], counter="counter")
    modern = family_inpainters["flux"].family.call_arguments(**common)
    assert (modern["height"], modern["width"], modern["callback_on_step_end"]) == (16, 32, "counter")
    legacy = family_inpainters["sd-legacy"].family.call_arguments(**common)
    # the legacy class takes neither height/width nor callback_on_step_end, and one image per call
    assert not {"height", "width", "callback_on_step_end"} & set(legacy)
    assert (legacy["image"], legacy["prompt"], legacy["generator"]) == ("image", "", "generator")
    with pytest.raises(ValueError, match="one image per call"):
        family_inpainters["sd-legacy"].family.call_arguments(**{**common, "images": ["a", "b"]})


def test_a_pipeline_without_a_required_argument_cannot_be_adapted():
    from harness.pipelines.families import StableDiffusion

    class NoStrength:
        def __call__(self, prompt, image, mask_image, num_inference_steps, guidance_scale, generator, output_type):
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="NoStrength.__call__ takes no strength"):
        StableDiffusion(NoStrength())


def test_batches_of_several_cases_run_one_call_or_one_per_case(family_inpainters):
    """The legacy class takes one image per call: a batch runs case by case with the same result."""
    rng = np.random.default_rng(1)
    images = [(rng.random((16, 16, 3)) * 255).astype(np.uint8) for _ in range(2)]
    masks = [np.zeros((16, 16), bool), np.ones((16, 16), bool)]
    masks[0][4:12, 4:12] = True
    for name in ("sd-legacy", "flux"):
        inpainter = family_inpainters[name]
        batch = inpainter.inpaint_batch(images, masks, strength=0.5, seeds=[0, 1], steps=4)
        steps = inpainter.last_timing.steps
        singles = [inpainter.inpaint(i, m, strength=0.5, seed=s, steps=4) for i, m, s in zip(images, masks, [0, 1])]
        assert steps == inpainter.last_timing.steps  # per image, not summed over the batch
        for output, single in zip(batch, singles):
            assert np.abs(output.astype(int) - single.astype(int)).max() <= 1


def test_config_hash_ignores_where_and_by_which_version_a_config_was_written():
    base = {"in_channels": 4, "block_out_channels": [16, 32]}
    assert config_sha256({**base, "_name_or_path": "/a", "_diffusers_version": "0.36.0"}) == config_sha256(base)
    assert config_sha256({**base, "in_channels": 9}) != config_sha256(base)
