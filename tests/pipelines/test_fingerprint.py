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
    "ref", "source", "weights_sha256", "pipeline_class", "unet_in_channels", "vae_scale_factor",
    "vae_scaling_factor", "scheduler_class", "scheduler_config", "dtype", "device", "torch_threads", "diffusers",
    "torch", "transformers",
}


def test_fingerprint_has_the_keys_and_is_json(tiny):
    fingerprint = tiny.fingerprint()
    assert set(fingerprint) == KEYS
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint["ref"] == "tiny" and fingerprint["source"] == "embedded"
    assert fingerprint["pipeline_class"] == "StableDiffusionInpaintPipeline"
    assert fingerprint["unet_in_channels"] == 4
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
    assert tiny_9ch.fingerprint()["unet_in_channels"] == 9


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
