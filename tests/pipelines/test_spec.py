"""``resolve_spec``: folder, class, family and scheduler resolved from config files alone."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.pipelines import PipelineLoadError, SchedulerError, UnsupportedPipelineError, resolve_spec
from harness.pipelines.source import NotCachedError, embedded_folder


def _folder_naming(tmp_path, class_name: str, scheduler: str = "PNDMScheduler"):
    """A folder whose model_index.json names ``class_name`` (config files only, no weights)."""
    folder = tmp_path / class_name
    (folder / "scheduler").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name,
                                                         "scheduler": ["diffusers", scheduler]}))
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": scheduler}))
    return folder


def test_the_embedded_pipeline_resolves_to_its_own_class_and_scheduler():
    spec = resolve_spec("tiny")
    assert (spec.pipeline_class, spec.family.name, spec.model_scheduler, spec.scheduler) == (
        "StableDiffusionInpaintPipeline", "sd", "PNDMScheduler", "PNDMScheduler")
    assert spec.source.kind == "embedded" and spec.scheduler_config["skip_prk_steps"] is True
    assert spec.rule() == "StableDiffusionInpaintPipeline.get_timesteps with PNDMScheduler"


def test_resolution_imports_no_torch_for_a_supported_folder_class():
    import subprocess
    import sys

    code = ("import sys; from harness.pipelines import resolve_spec; resolve_spec('tiny'); "
            "print(sorted({'torch', 'diffusers'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_text_to_image_folders_map_as_autopipeline_for_inpainting_maps_them(test_pipelines):
    # the flux and sd3 folders name FluxPipeline and StableDiffusion3Pipeline, as their hub checkpoints do
    assert json.loads((test_pipelines / "flux" / "model_index.json").read_text())["_class_name"] == "FluxPipeline"
    assert resolve_spec(str(test_pipelines / "flux")).pipeline_class == "FluxInpaintPipeline"
    assert resolve_spec(str(test_pipelines / "sd3")).pipeline_class == "StableDiffusion3InpaintPipeline"


def test_a_flux_fill_folder_loads_as_its_own_class_which_autopipeline_does_not_map(test_pipelines):
    spec = resolve_spec(str(test_pipelines / "flux-fill"))
    assert (spec.pipeline_class, spec.family.name, spec.scheduler) == (
        "FluxFillPipeline", "flux-fill", "FlowMatchEulerDiscreteScheduler")


def test_pipeline_class_overrides_the_folders():
    spec = resolve_spec("tiny", pipeline_class="StableDiffusionInpaintPipelineLegacy")
    assert (spec.pipeline_class, spec.family.name) == ("StableDiffusionInpaintPipelineLegacy", "sd-legacy")


@pytest.mark.parametrize(("class_name", "words"), [
    ("KandinskyV22InpaintPipeline", "MoVQ"),
    ("IFInpaintingPipeline", "pixel-space cascade"),
    ("StableDiffusionControlNetInpaintPipeline", "control image"),
])
def test_a_folder_of_a_refused_class_is_refused_with_the_reason_and_where(tmp_path, class_name, words):
    folder = _folder_naming(tmp_path, class_name)
    with pytest.raises(UnsupportedPipelineError) as caught:
        resolve_spec(str(folder))
    message = str(caught.value)
    assert f"pipeline class {class_name} is not supported" in message and words in message
    assert str(folder / "model_index.json") in message


def test_a_text_to_image_class_that_maps_to_an_unsupported_one_names_both(tmp_path):
    folder = _folder_naming(tmp_path, "QwenImagePipeline", "FlowMatchEulerDiscreteScheduler")
    with pytest.raises(UnsupportedPipelineError, match="QwenImageInpaintPipeline is not supported: no family adapter.*"
                                                       r"\(QwenImagePipeline in .* maps to it\)"):
        resolve_spec(str(folder))


def test_a_class_autopipeline_cannot_map_is_refused(tmp_path):
    folder = _folder_naming(tmp_path, "NotAPipeline")
    with pytest.raises(UnsupportedPipelineError, match="NotAPipeline .* has no inpainting pipeline"):
        resolve_spec(str(folder))


def test_an_unsupported_pipeline_class_is_refused_before_the_folder_is_looked_for(tmp_path):
    with pytest.raises(UnsupportedPipelineError, match="KandinskyV22InpaintPipeline is not supported"):
        resolve_spec(str(tmp_path / "absent"), pipeline_class="KandinskyV22InpaintPipeline")


def test_a_scheduler_that_fits_is_taken_and_one_that_does_not_is_refused(test_pipelines):
    assert resolve_spec("tiny", scheduler="EulerDiscreteScheduler").scheduler == "EulerDiscreteScheduler"
    assert resolve_spec(str(test_pipelines / "sdxl"), scheduler="PNDMScheduler").scheduler == "PNDMScheduler"
    with pytest.raises(SchedulerError, match="PNDMScheduler does not fit FluxInpaintPipeline, which ships "
                                             "FlowMatchEulerDiscreteScheduler; diffusers lists as compatible: "
                                             "FlowMatchEulerDiscreteScheduler$"):
        resolve_spec(str(test_pipelines / "flux"), scheduler="PNDMScheduler")
    with pytest.raises(SchedulerError, match="unknown scheduler 'Euler'; did you mean"):
        resolve_spec("tiny", scheduler="Euler")


@pytest.mark.parametrize(("damage", "message"), [
    (lambda f: (f / "model_index.json").write_text("{not json"), "model_index.json of .* is not readable JSON"),
    (lambda f: (f / "model_index.json").write_text("[]"), "is not a JSON object"),
    (lambda f: (f / "model_index.json").write_text("{}"), "names no pipeline class"),
    (lambda f: shutil.rmtree(f / "scheduler"), "has no scheduler_config.json"),
])
def test_broken_config_files_are_named(tmp_path, damage, message):
    copy = tmp_path / "copy"
    shutil.copytree(embedded_folder("tiny"), copy)
    damage(copy)
    with pytest.raises(PipelineLoadError, match=message):
        resolve_spec(str(copy))


def test_a_hub_id_not_in_the_cache_is_left_for_later_when_downloads_are_possible(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(NotCachedError, match="'no-such-owner/no-such-model' is not in the local cache"):
        resolve_spec("no-such-owner/no-such-model", download=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PipelineLoadError, match="offline mode is on") as caught:
        resolve_spec("no-such-owner/no-such-model", download=False)
    assert not isinstance(caught.value, NotCachedError)
