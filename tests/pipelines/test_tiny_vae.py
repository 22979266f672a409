"""The embedded VAE is trained: its round trip on held-out images clears the bar.

The bar is SD 1.5's own VAE at the same size: PSNR 23.4 dB on COCO 2017 val at 256x256, as
published with the kl-f8 decoder fine-tunes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import images
from harness.pipelines.source import embedded_folder

PSNR_BAR_DB = 23.4
MAX_SIDE = 256


def _training_record(name: str) -> dict:
    return json.loads((embedded_folder(name) / "vae" / "training.json").read_text())


def _psnr(original: np.ndarray, output: np.ndarray) -> float:
    mse = np.mean((original.astype(np.float64) - output.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_both_pipelines_share_the_trained_vae():
    tiny, tiny_9ch = embedded_folder("tiny") / "vae", embedded_folder("tiny-9ch") / "vae"
    for name in ("config.json", "diffusion_pytorch_model.safetensors", "training.json"):
        assert (tiny / name).read_bytes() == (tiny_9ch / name).read_bytes()


def test_held_out_images_were_not_trained_on():
    record = _training_record("tiny")
    held_out = record["held_out"]
    assert {"coffee", "rocket"} <= set(held_out)
    assert set(held_out) <= set(images.bundled_names())
    assert len(held_out) < len(images.bundled_names())
    trained_on = set(record["training_images"])
    assert trained_on.isdisjoint(held_out) and set(images.bundled_names()) - set(held_out) <= trained_on


def test_median_held_out_round_trip_psnr_clears_the_bar(tiny):
    held_out = _training_record("tiny")["held_out"]
    scores = {}
    for name in held_out:
        image = images.prepare(images.load_bundled(name), max_side=MAX_SIDE, multiple=tiny.vae_scale_factor)
        scores[name] = _psnr(image, tiny.vae_roundtrip(image))
    assert float(np.median(list(scores.values()))) >= PSNR_BAR_DB, scores


def test_recorded_psnr_matches_what_the_saved_vae_gives(tiny):
    record = _training_record("tiny")
    for name, recorded in record["held_out_psnr"].items():
        image = images.prepare(images.load_bundled(name), max_side=record["eval_max_side"], multiple=8)
        assert _psnr(image, tiny.vae_roundtrip(image)) == pytest.approx(recorded, abs=0.05)


def test_latents_are_roughly_unit_variance(tiny):
    import torch

    image = images.prepare(images.load_bundled("astronaut"), max_side=MAX_SIDE, multiple=8)
    pixels = tiny.pipe.image_processor.preprocess(image[None].astype(np.float32) / 255.0)
    with torch.inference_mode():
        latents = tiny.pipe.vae.encode(pixels).latent_dist.mode() * tiny.pipe.vae.config.scaling_factor
    assert 0.5 < float(latents.std()) < 2.0
