"""``steps_run`` (torch-free) against diffusers' own ``get_timesteps``."""

from __future__ import annotations

import pytest

from harness.pipelines import steps_run

PAIRS = [(10, 1.0), (10, 0.5), (10, 0.05), (10, 0.0), (100, 0.29), (200, 0.01), (7, 0.99), (1, 1.0), (50, 0.3)]


@pytest.mark.parametrize(("steps", "strength"), PAIRS)
def test_steps_run_matches_diffusers_get_timesteps(tiny, steps, strength):
    scheduler = tiny.pipe.scheduler
    scheduler.set_timesteps(steps)
    _, kept = tiny.pipe.get_timesteps(num_inference_steps=steps, strength=strength, device="cpu")
    assert steps_run(steps, strength) == kept


def test_float_truncation_is_mirrored():
    assert steps_run(100, 0.29) == 28  # 100 * 0.29 == 28.999999999999996


@pytest.mark.parametrize(("steps", "strength", "message"), [
    (0, 0.5, "positive integer"), (-3, 0.5, "positive integer"), (2.5, 0.5, "positive integer"),
    (True, 0.5, "positive integer"), (10, 1.5, r"strength must be in \[0, 1\]"), (10, -0.1, "strength"),
])
def test_bad_arguments_are_rejected(steps, strength, message):
    with pytest.raises(ValueError, match=message):
        steps_run(steps, strength)
