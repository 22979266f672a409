"""The VAE round trip (the floor) per family: shift and scaling cancel, float16 upcasting as the pipeline does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.pipelines import load_inpainter

IMAGE = (np.random.default_rng(2).random((16, 32, 3)) * 255).astype(np.uint8)


def test_the_round_trip_is_the_vae_alone_shift_and_scaling_cancelling(family, family_inpainters):
    inpainter = family_inpainters[family]
    vae = inpainter.pipe.vae
    with torch.inference_mode():
        pixels = torch.from_numpy(IMAGE).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample
    expected = np.round(((decoded[0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1) * 255).astype(int)
    output = inpainter.vae_roundtrip(IMAGE)
    assert output.shape == IMAGE.shape and output.dtype == np.uint8
    assert np.abs(output.astype(int) - expected).max() <= 1
    assert inpainter.last_timing.steps == 0


def test_flux_and_sd3_vaes_do_shift_so_the_cancelling_is_exercised(family_inpainters):
    for name in ("sd3", "flux", "flux-fill"):
        config = family_inpainters[name].pipe.vae.config
        assert config.shift_factor and config.scaling_factor != 1.0


def _dtypes_seen(inpainter) -> list:
    """Run the round trip on a float16 VAE and return the dtypes its encoder and decoder saw."""
    vae = inpainter.pipe.vae
    seen = []
    hooks = [part.register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
             for part in (vae.encoder, vae.decoder)]
    try:
        inpainter.vae_roundtrip(IMAGE)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


@pytest.fixture
def half_vae(test_pipelines):
    """A loader for a test pipeline whose VAE is float16 (on the CPU, where float16 kernels run)."""
    def load(name: str, force_upcast: bool):
        inpainter = load_inpainter(str(test_pipelines / name), device="cpu")
        inpainter.pipe.vae.to(torch.float16)
        inpainter.pipe.vae.register_to_config(force_upcast=force_upcast)
        return inpainter

    return load


def test_sdxl_runs_a_float16_vae_in_float32_when_its_config_says_force_upcast(half_vae):
    inpainter = half_vae("sdxl", force_upcast=True)
    assert _dtypes_seen(inpainter) == [torch.float32, torch.float32]
    assert inpainter.pipe.vae.dtype == torch.float16  # put back as the pipeline found it


def test_without_force_upcast_sdxl_keeps_float16(half_vae):
    assert _dtypes_seen(half_vae("sdxl", force_upcast=False)) == [torch.float16, torch.float16]


def test_sd_does_not_upcast_because_its_pipeline_does_not(half_vae):
    # StableDiffusionInpaintPipeline decodes in the VAE's dtype whatever force_upcast says
    assert _dtypes_seen(half_vae("sd", force_upcast=True)) == [torch.float16, torch.float16]
