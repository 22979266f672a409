"""The step rule collection uses (no weights) agrees with what each pipeline really runs.

The rule asks the pipeline class's own ``get_timesteps`` on a scheduler built from the folder's
config; here every family's pipeline is called for real and its denoiser's calls are counted.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.pipelines import resolve_spec
from harness.pipelines.convert import to_pil_image, to_pil_mask
from harness.pipelines.timing import StepCounter

STRENGTHS = [0.05, 0.1, 0.15, 0.95]
FLOW_MATCHING = {"sd3", "flux", "flux-fill"}


class DenoiserCalls:
    """Counts the denoiser's forward calls: what the pipeline really ran, independent of its callbacks."""

    def __init__(self, inpainter):
        self.count = 0
        self.module = getattr(inpainter.pipe, inpainter.family.denoiser)

    def __enter__(self) -> "DenoiserCalls":
        self.handle = self.module.register_forward_pre_hook(self._tick)
        return self

    def __exit__(self, *exc_info) -> None:
        self.handle.remove()

    def _tick(self, module, args) -> None:
        self.count += 1


@pytest.fixture(scope="module")
def image_and_mask():
    image = (np.random.default_rng(0).random((16, 32, 3)) * 255).astype(np.uint8)
    mask = np.zeros((16, 32), bool)
    mask[4:12, 8:24] = True
    return image, mask


@pytest.mark.parametrize("strength", STRENGTHS)
def test_the_rule_agrees_with_the_steps_the_pipeline_runs(family, strength, family_inpainters, test_pipelines,
                                                          image_and_mask):
    spec = resolve_spec(str(test_pipelines / family))  # what collection sees: config files only
    plan = spec.plan(10, strength)
    inpainter = family_inpainters[family]
    image, mask = image_and_mask
    if spec.refuses(10, strength):
        # the pipeline itself refuses it (called directly, past the harness's own check)
        arguments = inpainter.family.call_arguments(
            prompts=[""], images=[to_pil_image(image)], masks=[to_pil_mask(mask)], height=16, width=32,
            strength=strength, steps=10, guidance_scale=0.0, generators=[inpainter._generator(0)],
            counter=StepCounter())
        with pytest.raises(ValueError, match="number of pipeline.*steps is 0"):
            inpainter.pipe(**arguments)
        return
    with DenoiserCalls(inpainter) as calls:
        inpainter.inpaint(image, mask, strength=strength, seed=0, steps=10)
    assert calls.count == plan.evaluations
    assert inpainter.last_timing.steps == plan.evaluations  # what the harness records, from the callback


def test_sd_keeps_int_n_s_and_flow_matching_n_minus_int_n_minus_n_s(family, test_pipelines):
    """The two rules DESIGN.md names, computed independently of diffusers."""
    spec = resolve_spec(str(test_pipelines / family))
    for strength in STRENGTHS:
        expected = 10 - int(10 - 10 * strength) if family in FLOW_MATCHING else int(10 * strength)
        assert spec.plan(10, strength).steps == expected, strength
    # strength 0.05 runs 1 step under flow matching, none (a skip) under SD's rule
    assert spec.refuses(10, 0.05) == (family not in FLOW_MATCHING | {"sd-legacy"})


def test_the_legacy_pipeline_runs_plms_once_even_without_a_step(test_pipelines):
    """It never checks the count: PLMS's repeated last timestep is left, so one evaluation runs."""
    plan = resolve_spec(str(test_pipelines / "sd-legacy")).plan(10, 0.05)
    assert (plan.steps, plan.evaluations) == (0, 1)


@pytest.mark.parametrize(("steps", "strength", "kept"),
                         [(10, 1.0, 10), (10, 0.5, 5), (10, 0.0, 0), (100, 0.29, 28), (200, 0.01, 2), (7, 0.99, 6)])
def test_the_embedded_pipelines_rule_truncates_like_its_get_timesteps(steps, strength, kept):
    # 100 * 0.29 == 28.999999999999996: the pipeline's int() truncates, and so does the rule
    spec = resolve_spec("tiny")
    plan = spec.plan(steps, strength)
    assert plan.steps == kept and plan.evaluations == (kept + 1 if kept else 1)  # PLMS repeats a timestep
    assert spec.refuses(steps, strength) == (kept == 0)


def test_a_scheduler_swap_changes_the_rule():
    """DDIM has no repeated timestep: one evaluation per step."""
    plan = resolve_spec("tiny", scheduler="DDIMScheduler").plan(10, 0.5)
    assert (plan.steps, plan.evaluations) == (5, 5)
