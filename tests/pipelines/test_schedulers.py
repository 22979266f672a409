"""Choosing the scheduler: the model's by default, a compatible one by name, never an unfit one."""

from __future__ import annotations

import pytest
from diffusers import EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler, PNDMScheduler

from harness.pipelines.schedulers import MODEL, SchedulerError, check_fits, replacement, scheduler_type

SDXL_EULER = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)


def test_names_are_diffusers_scheduler_classes():
    assert scheduler_type("PNDMScheduler") is PNDMScheduler
    with pytest.raises(SchedulerError, match="unknown scheduler 'DDIM'; did you mean DDIMScheduler"):
        scheduler_type("DDIM")
    with pytest.raises(SchedulerError, match="unknown scheduler 'StableDiffusionPipeline'"):
        scheduler_type("StableDiffusionPipeline")  # a diffusers class, but not a scheduler
    with pytest.raises(SchedulerError, match="unknown scheduler 'not a name'"):
        scheduler_type("not a name")


def test_model_keeps_the_shipped_scheduler_itself():
    assert replacement(MODEL, SDXL_EULER, "StableDiffusionXLInpaintPipeline") is SDXL_EULER
    assert replacement("EulerDiscreteScheduler", SDXL_EULER, "StableDiffusionXLInpaintPipeline") is SDXL_EULER


def test_pndm_replacing_euler_keeps_the_noise_schedule_and_runs_plms_only():
    pndm = replacement("PNDMScheduler", SDXL_EULER, "StableDiffusionXLInpaintPipeline")
    assert type(pndm) is PNDMScheduler and pndm.config.skip_prk_steps is True
    assert (pndm.config.beta_schedule, pndm.config.beta_end, pndm.config.steps_offset) == ("scaled_linear", 0.012, 1)


def test_a_scheduler_diffusers_does_not_list_as_compatible_is_refused():
    with pytest.raises(SchedulerError, match="PNDMScheduler does not fit FluxInpaintPipeline"):
        check_fits("PNDMScheduler", FlowMatchEulerDiscreteScheduler(), "FluxInpaintPipeline")
    with pytest.raises(SchedulerError, match="compatible: .*DDIMScheduler.*PNDMScheduler"):
        check_fits("FlowMatchEulerDiscreteScheduler", PNDMScheduler(), "StableDiffusionInpaintPipeline")
