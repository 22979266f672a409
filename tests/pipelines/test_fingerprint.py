"""``Inpainter.fingerprint``: keys, JSON, and a hash that follows the files."""

from __future__ import annotations

import json
import shutil

import diffusers
import torch
import transformers

from harness.pipelines import load_inpainter
from harness.pipelines.fingerprint import hash_files
from harness.pipelines.source import embedded_folder

KEYS = {
    "ref", "source", "weights_sha256", "pipeline_class", "family", "denoiser", "text_encoders", "outside",
    "size_multiple", "vae_scale_factor", "vae_scaling_factor", "vae_shift_factor", "scheduler_class",
    "scheduler_config", "dtype", "device", "torch_threads", "diffusers", "torch", "transformers",
}


def test_fingerprint_has_the_keys_and_is_json(tiny):
    fingerprint = tiny.fingerprint()
    assert set(fingerprint) == KEYS
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint["ref"] == "tiny" and fingerprint["source"] == "embedded"
    assert fingerprint["pipeline_class"] == "StableDiffusionInpaintPipeline" and fingerprint["family"] == "sd"
    assert fingerprint["denoiser"]["class"] == "UNet2DConditionModel" and fingerprint["denoiser"]["in_channels"] == 4
    assert list(fingerprint["text_encoders"]) == ["text_encoder"]
    assert fingerprint["scheduler_class"] == "PNDMScheduler"
    assert fingerprint["scheduler_config"]["skip_prk_steps"] is True
    assert fingerprint["scheduler_config"]["steps_offset"] == 1
    assert (fingerprint["dtype"], fingerprint["device"]) == ("float32", "cpu")
    assert fingerprint["diffusers"] == diffusers.__version__
    assert fingerprint["torch"] == torch.__version__
    assert fingerprint["transformers"] == transformers.__version__
    assert len(fingerprint["weights_sha256"]) == 64


def test_the_two_embedded_pipelines_hash_differently(tiny, tiny_9ch):
    assert tiny.fingerprint()["weights_sha256"] != tiny_9ch.fingerprint()["weights_sha256"]
    nine = tiny_9ch.fingerprint()["denoiser"]
    assert nine["in_channels"] == 9 and nine["config_sha256"] != tiny.fingerprint()["denoiser"]["config_sha256"]
    # the same text encoder in both folders
    assert tiny_9ch.fingerprint()["text_encoders"] == tiny.fingerprint()["text_encoders"]


def test_hash_follows_the_files_not_the_location(tiny, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(embedded_folder("tiny"), copy)
    assert hash_files(copy) == tiny.fingerprint()["weights_sha256"]

    config_path = copy / "vae" / "config.json"
    config = json.loads(config_path.read_text())
    config["scaling_factor"] = config["scaling_factor"] * 2
    config_path.write_text(json.dumps(config))
    changed = load_inpainter(str(copy), device="cpu").fingerprint()
    assert changed["weights_sha256"] != tiny.fingerprint()["weights_sha256"]
    assert changed["vae_scaling_factor"] == config["scaling_factor"] != tiny.fingerprint()["vae_scaling_factor"]
    assert changed["source"] == "local"


def test_hash_changes_when_one_weight_byte_changes(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(embedded_folder("tiny"), copy)
    before = hash_files(copy)
    weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    assert hash_files(copy) != before


def test_training_records_do_not_change_the_hash(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(embedded_folder("tiny"), copy)
    before = hash_files(copy)
    (copy / "vae" / "training.json").write_text('{"seconds": 1.0}')
    assert hash_files(copy) == before


#: folder -> text encoders it has
TEXT_ENCODERS = {"sd": ["text_encoder"], "sd-9ch": ["text_encoder"], "sd-legacy": ["text_encoder"],
                 "sdxl": ["text_encoder", "text_encoder_2"], "sd3": ["text_encoder", "text_encoder_2", "text_encoder_3"],
                 "flux": ["text_encoder", "text_encoder_2"], "flux-fill": ["text_encoder", "text_encoder_2"]}


def test_every_family_names_class_family_denoiser_text_encoders_and_scheduler(family, family_inpainters,
                                                                              family_expectations):
    inpainter = family_inpainters[family]
    fingerprint = inpainter.fingerprint()
    pipeline_class, scheduler = family_expectations[family]
    assert fingerprint["pipeline_class"] == pipeline_class and fingerprint["family"] == inpainter.family.name
    denoiser = getattr(inpainter.pipe, inpainter.family.denoiser)
    assert fingerprint["denoiser"]["class"] == type(denoiser).__name__
    assert len(fingerprint["denoiser"]["config_sha256"]) == 64
    assert list(fingerprint["text_encoders"]) == TEXT_ENCODERS[family]
    for name, entry in fingerprint["text_encoders"].items():
        assert entry["class"] == type(getattr(inpainter.pipe, name)).__name__ and len(entry["config_sha256"]) == 64
    assert fingerprint["scheduler_class"] == scheduler  # the folder's own: nothing forced
    assert json.loads(json.dumps(fingerprint)) == fingerprint
