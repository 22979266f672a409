"""The family registry: one adapter per supported class, a clear refusal for every other."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.pipelines.families import FAMILIES, UnsupportedPipelineError, adapter_for, family_for_class, refusal

SUPPORTED = ["StableDiffusionInpaintPipeline", "StableDiffusionInpaintPipelineLegacy", "StableDiffusionXLInpaintPipeline",
             "StableDiffusion3InpaintPipeline", "FluxInpaintPipeline", "FluxFillPipeline"]


def test_the_registry_holds_the_supported_classes_in_order():
    assert list(FAMILIES) == SUPPORTED
    assert [family.name for family in FAMILIES.values()] == ["sd", "sd-legacy", "sdxl", "sd3", "flux", "flux-fill"]
    assert all(FAMILIES[name].pipeline_class == name for name in SUPPORTED)


def test_importing_the_registry_imports_neither_torch_nor_diffusers():
    code = ("import sys, harness.pipelines.families, harness.pipelines.spec; "
            "print(sorted({'torch', 'diffusers'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("name", "words"), [
    ("KandinskyV22InpaintCombinedPipeline", "MoVQ"),
    ("KandinskyInpaintPipeline", "MoVQ"),
    ("IFInpaintingPipeline", "pixel-space cascade"),
    ("StableDiffusionControlNetInpaintPipeline", "control image"),
    ("FluxControlInpaintPipeline", "control image"),
    ("QwenImageInpaintPipeline", "no family adapter drives it"),
    ("StableDiffusionXLPAGInpaintPipeline", "no family adapter drives it"),
])
def test_refused_classes_are_named_with_the_reason(name, words):
    with pytest.raises(UnsupportedPipelineError) as caught:
        family_for_class(name)
    message = str(caught.value)
    assert message == refusal(name)
    assert message.startswith(f"pipeline class {name} is not supported: ") and words in message
    if "no family adapter" in message:
        assert all(supported in message for supported in SUPPORTED)


def test_each_test_pipeline_gets_its_family_adapter(family, family_inpainters, family_expectations):
    inpainter = family_inpainters[family]
    expected_class, _ = family_expectations[family]
    assert type(inpainter.pipe).__name__ == expected_class
    assert type(adapter_for(inpainter.pipe)) is type(inpainter.family) is FAMILIES[expected_class]


def test_an_object_of_another_class_is_refused():
    class QwenImageInpaintPipeline:
        pass

    with pytest.raises(UnsupportedPipelineError, match="QwenImageInpaintPipeline is not supported"):
        adapter_for(QwenImageInpaintPipeline())
