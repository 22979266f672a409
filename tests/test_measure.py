"""One case's measurement with stand-in pipelines: rows, flags, problems and skips, the excess over
the round trip, mask families and mitigations, without torch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from harness import masks
from harness.cases import Case, ImageSource
from harness.measure import measure_case, prepared_image, save_png
from harness.metrics import mse_outside, seam
from harness.pipelines import NonFiniteOutputError, Timing

CASE = Case("strength", ImageSource("coffee"), radius=0.5, strength=0.5, seed=0, steps=10)


def _darker(image):
    """The stand-in's VAE round trip: 3 levels darker everywhere."""
    return np.clip(image.astype(np.int16) - 3, 0, 255).astype(np.uint8)


class StandIn:
    """An inpainter whose output is a function of the input; records how it was called."""

    size_multiple = 8
    vae_scale_factor = 8  # one latent cell: the dilate mitigation's width

    def __init__(self, transform, roundtrip=_darker, accepts=("padding_mask_crop",)):
        self.transform = transform
        self.roundtrip = roundtrip
        self.accepted = accepts
        self.last_timing = None
        self.calls = []
        self.roundtrips = 0
        self.pipe = self  # named in skip messages

    def accepts(self, argument):
        return argument in self.accepted

    def inpaint(self, image, mask, **kwargs):
        self.calls.append({**kwargs, "mask": mask})
        self.last_timing = Timing(seconds=0.25, steps=6)
        return self.transform(image, mask)

    def vae_roundtrip(self, image):
        self.roundtrips += 1
        self.last_timing = Timing(seconds=0.1, steps=0)
        return self.roundtrip(image)


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
    assert [{k: v for k, v in call.items() if k != "mask"} for call in stand_in.calls] == [
        {"strength": 0.5, "seed": 0, "steps": 10, "guidance_scale": 7.5, "prompt": "a lake", "paste_back": True}]


def test_floor_cases_use_the_vae_round_trip():
    floor = Case("floor", ImageSource("coffee"), radius=0.8, strength=None, seed=None, steps=10)
    result = measure_case(StandIn(lambda image, _: image, roundtrip=lambda image: image), floor, max_side=64)
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


def test_ready_comes_after_the_last_pipeline_use_and_before_the_masks_references(monkeypatch):
    # the look-ahead starts the next call at ready(): the pipeline must be done with, and the
    # per-mask arithmetic still to come (it overlaps the next call)
    from harness import measure
    from harness.reference import Reference

    stand_in, built, seen = StandIn(_plus_ten_outside), [], []
    monkeypatch.setattr(measure, "Reference", lambda *args: built.append(args) or Reference(*args))
    case = dataclasses.replace(CASE, radius=0.37)  # a mask no other test has cached
    result = measure_case(stand_in, case, max_side=64,
                          ready=lambda: seen.append((len(stand_in.calls), stand_in.roundtrips, len(built))))
    assert seen == [(1, 1, 0)]  # the call and the image's round trip made, no reference built yet
    assert (len(stand_in.calls), stand_in.roundtrips, len(built)) == (1, 1, 1) and "mse_excess" in result.row


# -- the excess over the round trip -------------------------------------------------------------------


def test_mse_excess_is_mse_outside_minus_the_round_trip_on_the_same_pixels():
    case = dataclasses.replace(CASE, image=ImageSource("astronaut"))
    stand_in = StandIn(_plus_ten_outside)
    row = measure_case(stand_in, case, max_side=64).row
    image = prepared_image(case.image, 64, 8)
    outside = ~masks.disc_mask(*image.shape[:2], 0.5)
    floor_mse = np.mean((np.clip(image[outside].astype(float) - 3, 0, 255) - image[outside]) ** 2)
    assert row["mse_floor"] == pytest.approx(floor_mse, rel=1e-12)
    assert row["mse_excess"] == pytest.approx(row["mse_outside"] - floor_mse, rel=1e-12)
    assert sum(row["excess_profile"]["count"]) == outside.sum() and row["texture_profile"]["count"]
    assert -1 <= row["texture_rho_floor"] <= 1
    # the round trip is computed once per image and size, then shared by every case of the image
    measure_case(stand_in, dataclasses.replace(case, strength=0.9), max_side=64)
    assert stand_in.roundtrips == 1
    assert set(row) >= {"color_shift_outside", "ssim_outside", "detail_loss_outside", "seam"}


def _noisy(image, mask):
    """A stand-in output that changes every pixel a little and the masked ones a lot."""
    noise = np.random.default_rng(int(mask.sum())).normal(0, 6, image.shape)
    noise[mask] *= 10
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_cases_of_one_mask_share_its_reference_and_record_what_the_metric_functions_compute():
    from harness import measure, metrics
    from harness.texture import TEXTURE_NAMES, texture_profile

    case = dataclasses.replace(CASE, image=ImageSource("chelsea"), radius=0.45)
    stand_in = StandIn(_noisy)
    caches = (measure._reference, measure._floor_reference)
    before = [cache.cache_info().misses for cache in caches]
    rows = [measure_case(stand_in, dataclasses.replace(case, strength=s), max_side=64).row for s in (0.3, 0.6, 0.9)]
    assert [cache.cache_info().misses - b for cache, b in zip(caches, before)] == [1, 1]  # built once, then reused
    image = prepared_image(case.image, 64, 8)
    mask = masks.disc_mask(*image.shape[:2], 0.45)
    output, floor, distance = _noisy(image, mask), _darker(image), masks.edge_distance(mask)
    expected = {**metrics.leakage_metrics(image, output, mask), **metrics.visible_metrics(image, output, mask),
                "edge_profile": metrics.edge_profile(image, output, distance),
                **metrics.excess_metrics(image, output, floor, mask),
                "excess_profile": metrics.excess_profile(image, output, floor, distance)}
    texture = texture_profile(image, output, floor, mask)
    expected.update({name: texture.pop(name) for name in TEXTURE_NAMES}, texture_profile=texture)
    for row in rows:
        assert {key: repr(row[key]) for key in expected} == {key: repr(value) for key, value in expected.items()}


def test_study_preparation_floors_the_disc_radius():
    case = dataclasses.replace(CASE, image=ImageSource("rocket"), radius=0.37)
    row = measure_case(StandIn(_plus_ten_outside), case, max_side=128, resize="study").row
    # rocket 427x640 -> 85x128 -> 64x128 (multiples of 32); radius 0.37 x 32 = 11.84 -> 11 px
    assert (row["height"], row["width"]) == (64, 128) and row["radius_px"] == 11.0
    assert row["mask_area"] == pytest.approx(masks.disc_mask(64, 128, 11 / 32).mean())
    crop = measure_case(StandIn(_plus_ten_outside), case, max_side=128).row
    assert crop["radius_px"] == pytest.approx(0.37 * 80 / 2)


# -- mask families and user masks ---------------------------------------------------------------------


def test_a_family_case_uses_its_mask():
    case = Case("masks", ImageSource("coffee"), None, 0.5, 3, 10, mask="strokes-thin", area=0.2)
    stand_in = StandIn(_plus_ten_outside)
    row = measure_case(stand_in, case, max_side=64).row
    sent = stand_in.calls[0]["mask"]
    np.testing.assert_array_equal(sent, masks.strokes_mask(40, 64, 0.2, thickness="thin", seed=3))
    assert row["mask_area"] == pytest.approx(sent.mean()) and abs(row["mask_area"] - 0.2) <= masks.AREA_TOLERANCE
    assert row["mask"] == "strokes-thin" and row["area"] == 0.2 and row["radius_px"] is None
    assert row["mse_outside"] > 0


def test_a_user_mask_case_and_a_mask_that_vanishes(tmp_path):
    values = np.zeros((400, 600), np.uint8)
    values[100:300, 300:] = 255
    Image.fromarray(values).save(tmp_path / "coffee.png")
    source = ImageSource("coffee", mask=str(tmp_path / "coffee.png"))
    stand_in = StandIn(_plus_ten_outside)
    result = measure_case(stand_in, Case("masks", source, None, 0.5, 0, 10, mask="user"), max_side=64)
    sent = stand_in.calls[0]["mask"]
    assert sent.shape == (40, 64) and result.row["mask_area"] == pytest.approx(sent.mean()) and not result.problems
    values[:] = 0
    values[0, 0] = 255  # cropped away by the preparation
    Image.fromarray(values).save(tmp_path / "speck.png")
    speck = Case("masks", ImageSource("coffee", mask=str(tmp_path / "speck.png")), None, 0.5, 0, 10, mask="user")
    result = measure_case(StandIn(_plus_ten_outside), speck, max_side=64)
    assert result.row["flags"] == ["bad_mask"] and "fitted to the prepared 40x64 image, is empty" in result.problems[0]


# -- mitigations --------------------------------------------------------------------------------------


def _repaint_all(image, mask):
    """Every pixel brightened, the inside more: leakage everywhere, like the legacy pipeline."""
    out = image.astype(np.int16) + 20
    out[mask] = 255 - out[mask]
    return np.clip(out, 0, 255).astype(np.uint8)


def _mitigated(name, px=None, stand_in=None, strength=0.5):
    case = Case("mitigation", ImageSource("chelsea"), 0.5, strength, 0, 10, mitigation=name, mitigation_px=px)
    return measure_case(stand_in or StandIn(_repaint_all), case, max_side=64)


def test_paste_blend_and_none_share_one_call_and_order_as_expected():
    stand_in = StandIn(_repaint_all)
    none = _mitigated("none", stand_in=stand_in).row
    paste = _mitigated("paste", stand_in=stand_in).row
    blend = _mitigated("blend", 2, stand_in=stand_in).row
    assert len(stand_in.calls) == 1
    assert paste["mse_outside"] == 0.0 and paste["seam"] > 0
    assert 0 < blend["mse_outside"] < none["mse_outside"]
    assert blend["mitigation_px"] == 2 and paste["mitigation_px"] is None
    assert paste["seconds"] == none["seconds"] == 0.25  # the shared call's time


def test_crop_passes_padding_and_is_skipped_where_the_pipeline_lacks_it():
    stand_in = StandIn(_repaint_all)
    _mitigated("crop", 8, stand_in=stand_in)
    assert stand_in.calls[0]["padding_mask_crop"] == 8
    result = _mitigated("crop", 8, stand_in=StandIn(_repaint_all, accepts=()))
    assert result.skip == "StandIn.__call__ takes no padding_mask_crop" and result.output is None


def test_dilate_sends_a_mask_one_latent_cell_larger_and_measures_against_the_user_s():
    stand_in = StandIn(_repaint_all)
    row = _mitigated("dilate", stand_in=stand_in).row
    image = prepared_image(ImageSource("chelsea"), 64, 8)
    mask = masks.disc_mask(*image.shape[:2], 0.5)
    np.testing.assert_array_equal(stand_in.calls[0]["mask"], masks.edge_distance(mask) <= 8)
    assert row["mitigation_px"] == 8 and row["mask_area"] == pytest.approx(mask.mean())
    output = _repaint_all(image, stand_in.calls[0]["mask"])
    assert row["mse_outside"] == pytest.approx(mse_outside(image, output, mask))
    assert row["seam"] == pytest.approx(seam(image, output, mask))


def test_saved_png_is_lossless_and_fast_compressed(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    path = tmp_path / "out" / "case.png"
    save_png(array, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), array)
    # the zlib level is not stored in a PNG; the same pixels at Pillow's level 1 give the same bytes
    reference = tmp_path / "level1.png"
    Image.fromarray(array).save(reference, format="PNG", compress_level=1)
    assert path.read_bytes() == reference.read_bytes()
