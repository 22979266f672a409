"""``load_inpainter``: the routes (embedded, local folder, hub id) and their failures."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from harness.pipelines import PipelineLoadError, load_inpainter
from harness.pipelines.loader import resolve_device, resolve_dtype
from harness.pipelines.source import embedded_folder


def test_importing_the_package_does_not_import_torch_or_diffusers():
    code = "import sys, harness.pipelines; print(sorted({'torch', 'diffusers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_embedded_pipeline_properties(tiny):
    assert (tiny.ref, tiny.device, tiny.dtype) == ("tiny", "cpu", "float32")
    assert tiny.vae_scale_factor == tiny.size_multiple == 8 and tiny.family.name == "sd"
    assert tiny.pipe.tokenizer.model_max_length == 77
    assert tiny.pipe.safety_checker is None
    assert type(tiny.pipe).__name__ == "StableDiffusionInpaintPipeline"


def test_a_saved_copy_loads_through_the_local_path_route_and_gives_the_same_output(
    tiny, small_image, small_mask, tmp_path
):
    copy = tmp_path / "my-pipeline"
    shutil.copytree(embedded_folder("tiny"), copy)
    loaded = load_inpainter(str(copy), device="cpu")
    assert loaded.source.kind == "local"
    expected = tiny.inpaint(small_image, small_mask, strength=0.5, seed=3, steps=4)
    assert np.array_equal(loaded.inpaint(small_image, small_mask, strength=0.5, seed=3, steps=4), expected)


def test_missing_hub_id_offline_names_the_id_and_the_remedy(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(PipelineLoadError) as caught:
        load_inpainter("no-such-owner/no-such-inpainting-model", device="cpu")
    message = str(caught.value)
    assert "'no-such-owner/no-such-inpainting-model'" in message
    assert "hf download no-such-owner/no-such-inpainting-model" in message
    assert "local diffusers folder" in message


def test_a_folder_without_model_index_is_rejected_by_path(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"not a pipeline")
    with pytest.raises(PipelineLoadError, match="is not a diffusers pipeline folder") as caught:
        load_inpainter(str(tmp_path), device="cpu")
    assert str(tmp_path) in str(caught.value)


def test_a_missing_local_path_is_rejected(tmp_path):
    with pytest.raises(PipelineLoadError, match="does not exist"):
        load_inpainter(str(tmp_path / "absent"), device="cpu")


def test_a_broken_folder_fails_as_a_load_error(tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(embedded_folder("tiny"), copy)
    (copy / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(PipelineLoadError, match="could not load"):
        load_inpainter(str(copy), device="cpu")


def test_float16_on_cpu_is_refused():
    with pytest.raises(PipelineLoadError, match="float16.*not supported on the CPU"):
        load_inpainter("tiny", device="cpu", dtype="float16")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CUDA", "mps:0", ""])
def test_unknown_device_strings_are_named(device):
    with pytest.raises(ValueError, match=f"unknown device {device!r}"):
        load_inpainter("tiny", device=device)


def test_unknown_dtype_is_named():
    with pytest.raises(ValueError, match="unknown dtype 'half'"):
        load_inpainter("tiny", device="cpu", dtype="half")


def test_device_and_dtype_resolution_on_this_machine():
    import torch

    if torch.cuda.is_available():
        assert resolve_device("auto").startswith("cuda:")
        assert resolve_dtype("auto", "cuda:0") == "float16"
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(PipelineLoadError, match="no CUDA device"):
            resolve_device("cuda:0")
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
