"""One case's measurement with stand-in pipelines: rows, flags and problems, without torch."""

from __future__ import annotations

import numpy as np
import pytest

from harness import masks
from harness.cases import Case, ImageSource
from harness.measure import measure_case, prepared_image
from harness.pipelines import NonFiniteOutputError, Timing

CASE = Case("strength", ImageSource("coffee"), radius=0.5, strength=0.5, seed=0, steps=10)


class StandIn:
    """An inpainter whose output is a function of the input; records how it was called."""

    size_multiple = 8

    def __init__(self, transform):
        self.transform = transform
        self.last_timing = None
        self.calls = []

    def inpaint(self, image, mask, **kwargs):
        self.calls.append(kwargs)
        self.last_timing = Timing(seconds=0.25, steps=6)
        return self.transform(image, mask)

    def vae_roundtrip(self, image):
        self.last_timing = Timing(seconds=0.1, steps=0)
        return self.transform(image, None)


def _plus_ten_outside(image, mask):
    out = image.astype(np.int16)
    out[~mask] += 10
    return np.clip(out, 0, 255).astype(np.uint8)


def test_row_holds_case_size_timing_and_metrics_of_the_output():
    result = measure_case(StandIn(_plus_ten_outside), CASE, max_side=64)
    image = prepared_image(CASE.image, 64, 8)
    mask = masks.disc_mask(*image.shape[:2], 0.5)
    row = result.row
    assert (row["height"], row["width"]) == image.shape[:2] and row["case_id"] == CASE.case_id
    assert row["seconds"] == 0.25 and row["steps_run"] == 6 and row["flags"] == [] and not result.problems
    # +10 everywhere outside except where the original was above 245 (clipped): computed independently
    expected = np.minimum(image[~mask].astype(float) + 10, 255) - image[~mask]
    assert row["mse_outside"] == pytest.approx(np.mean(expected**2))
    assert row["mse_inside"] == 0.0 and row["n_outside"] == (~mask).sum()
    assert sum(row["edge_profile"]["count"]) == (~mask).sum()


def test_settings_reach_the_pipeline():
    stand_in = StandIn(_plus_ten_outside)
    measure_case(stand_in, CASE, max_side=64, paste_back=True, prompt="a lake", guidance_scale=7.5)
    assert stand_in.calls == [{"strength": 0.5, "seed": 0, "steps": 10, "guidance_scale": 7.5,
                               "prompt": "a lake", "paste_back": True}]


def test_floor_cases_use_the_vae_round_trip():
    floor = Case("floor", ImageSource("coffee"), radius=0.8, strength=None, seed=None, steps=10)
    result = measure_case(StandIn(lambda image, _: image), floor, max_side=64)
    assert result.row["mse_outside"] == 0.0 and result.row["steps_run"] == 0


@pytest.mark.parametrize("transform, flag, words", [
    (lambda image, mask: np.zeros_like(image), "constant_output", "constant image"),
    (lambda image, mask: image[:-8], "wrong_shape", "expected uint8"),
    (lambda image, mask: image.astype(np.float32), "wrong_shape", "expected uint8"),
])
def test_bad_outputs_are_flagged_not_raised(transform, flag, words):
    result = measure_case(StandIn(transform), CASE, max_side=64)
    assert result.row["flags"] == [flag] and words in result.problems[0]
    assert "mse_outside" not in result.row  # nothing measured from a bad output


def test_non_finite_output_is_flagged_not_raised():
    def broken(image, mask):
        raise NonFiniteOutputError("pipeline output holds NaN")

    result = measure_case(StandIn(broken), CASE, max_side=64)
    assert result.row["flags"] == ["non_finite"] and result.output is None
    assert "NaN" in result.problems[0] and "mse_outside" not in result.row
