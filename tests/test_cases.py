"""Tests of harness.cases: the presets' designs, case ids, image resolution and skips."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import images
from harness.cases import (
    EXPERIMENTS,
    PRESETS,
    Case,
    ImageSource,
    attach_user_masks,
    build_cases,
    resolve_images,
    skip_reason,
)

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+-s[01]\.\d\d-r[01]\.\d\d-seed\d+$")
FLOOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+-r[01]\.\d\d$")
MASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+-(disc|box|strokes-(thin|medium|thick))-a0\.\d\d-s[01]\.\d\d-seed\d+$")


class SDRule:
    """Stable Diffusion's step rule, written out here: keeps int(steps x strength) steps."""

    def refuses(self, steps: int, strength: float) -> bool:
        return int(steps * strength) < 1

    def rule(self) -> str:
        return "int(steps x strength)"


RULE = SDRule()


def _cases(preset_name, experiment, seeds=(0,)):
    preset = PRESETS[preset_name]
    sources = resolve_images(list(preset.images))
    return build_cases(experiment, preset, sources, steps=preset.steps, seeds=list(seeds))


# -- the paper preset ------------------------------------------------------------------------------


def test_paper_design():
    paper = PRESETS["paper"]
    assert paper.name == "paper"
    assert len(paper.images) == 20
    assert list(paper.images) == images.bundled_names()[:20]
    assert paper.max_side == 650
    assert paper.steps == 200
    assert paper.strength_radius == 0.8
    assert paper.radius_strengths == (0.1, 0.5, 0.9)
    assert paper.floor_radius == 0.8
    assert (paper.scheduler, paper.guidance_scale, paper.prompt) == ("PNDMScheduler", 0.0, "")
    assert PRESETS["smoke"].scheduler == "model"  # the folder's own


def test_paper_strengths_are_rounded_linspace():
    strengths = PRESETS["paper"].strengths
    assert len(strengths) == 100
    assert list(strengths) == np.round(np.linspace(0, 1, 100), 2).tolist()
    # a second formula: Python's round of i / 99
    assert list(strengths) == pytest.approx([round(i / 99, 2) for i in range(100)], abs=1e-12)
    assert strengths[0] == 0.0 and strengths[-1] == 1.0
    assert strengths[1] == 0.01 and strengths[50] == 0.51  # 50 / 99 = 0.505 -> 0.51 (0.50 is not in)
    assert 0.5 not in strengths
    assert len(set(strengths)) == 100  # rounding merged none
    assert all(isinstance(s, float) for s in strengths)


def test_paper_radii_are_linspace():
    radii = PRESETS["paper"].radii
    assert len(radii) == 50
    assert list(radii) == np.linspace(0.2, 0.8, 50).tolist()
    assert radii[0] == 0.2 and radii[-1] == pytest.approx(0.8)
    assert radii[1] == pytest.approx(0.2 + 0.6 / 49)
    assert all(isinstance(r, float) for r in radii)


def test_paper_strength_sweep_counts_and_skips():
    cases = _cases("paper", "strength")
    assert len(cases) == 20 * 100
    skipped = [c for c in cases if skip_reason(c, RULE) is not None]
    assert len(skipped) == 20
    assert {c.strength for c in skipped} == {0.0}
    assert Counter(c.image.name for c in skipped) == Counter(PRESETS["paper"].images)
    reason = skip_reason(skipped[0], RULE)
    assert "strength 0" in reason
    assert "200 steps" in reason
    # the smallest positive strength runs: int(200 * 0.01) = 2 steps
    assert all(skip_reason(c, RULE) is None for c in cases if c.strength == 0.01)
    assert all(c.radius == 0.8 and c.steps == 200 and c.seed == 0 for c in cases)


def test_paper_radius_sweep_counts():
    cases = _cases("paper", "radius")
    assert len(cases) == 20 * 50 * 3
    assert all(skip_reason(c, RULE) is None for c in cases)  # int(200 * 0.1) = 20 steps
    assert Counter(c.strength for c in cases) == {0.1: 1000, 0.5: 1000, 0.9: 1000}
    assert len({c.radius for c in cases}) == 50


def test_paper_floor_cases():
    cases = _cases("paper", "floor")
    assert len(cases) == 20
    assert all(c.strength is None and c.seed is None for c in cases)
    assert all(c.radius == 0.8 for c in cases)
    assert all(skip_reason(c, RULE) is None for c in cases)
    assert [c.case_id for c in cases] == [f"{name}-r0.80" for name in PRESETS["paper"].images]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("preset", ["paper", "smoke"])
def test_ids_unique_and_readable(preset, experiment):
    ids = [c.case_id for c in _cases(preset, experiment, seeds=(0, 1))]
    assert len(ids) == len(set(ids))
    pattern = {"floor": FLOOR_ID_PATTERN, "masks": MASK_ID_PATTERN}.get(experiment, ID_PATTERN)
    for case_id in ids:
        assert pattern.match(case_id), case_id
        assert " " not in case_id and "[" not in case_id and "::" not in case_id


def test_id_examples():
    strength_ids = {c.case_id for c in _cases("paper", "strength")}
    assert "coffee-s0.42-r0.80-seed0" in strength_ids
    assert "alpine-lake-s0.00-r0.80-seed0" in strength_ids
    assert "tundra-s1.00-r0.80-seed0" in strength_ids
    radius_ids = {c.case_id for c in _cases("paper", "radius")}
    assert "coffee-s0.10-r0.20-seed0" in radius_ids
    assert "coffee-s0.90-r0.80-seed0" in radius_ids
    assert "astronaut-s0.50-r0.21-seed0" in radius_ids  # 0.2 + 0.6 / 49 = 0.2122...
    case = Case("strength", ImageSource("coffee"), 0.8, 0.42, 0, 200)
    assert case.case_id == "coffee-s0.42-r0.80-seed0"
    assert Case("floor", ImageSource("coffee"), 0.8, None, None, 200).case_id == "coffee-r0.80"
    assert Case("radius", ImageSource("x"), 0.2122448979591837, 0.9, 12, 5).case_id == "x-s0.90-r0.21-seed12"


# -- the smoke preset ------------------------------------------------------------------------------


def test_smoke_preset_is_small():
    smoke = PRESETS["smoke"]
    assert smoke.name == "smoke"
    assert 1 <= len(smoke.images) <= 5
    assert set(smoke.images) <= set(images.bundled_names())
    assert smoke.max_side <= 256
    assert smoke.steps <= 20
    counts = {experiment: len(_cases("smoke", experiment)) for experiment in EXPERIMENTS}
    assert sum(counts.values()) <= 100
    assert counts["strength"] == len(smoke.images) * len(smoke.strengths)
    assert counts["radius"] == len(smoke.images) * len(smoke.radii) * len(smoke.radius_strengths)
    assert counts["floor"] == len(smoke.images)


def test_smoke_shows_a_reported_skip():
    skipped = [c for c in _cases("smoke", "strength") if skip_reason(c, RULE)]
    assert skipped and {c.strength for c in skipped} == {0.0}
    assert all(skip_reason(c, RULE) is None for c in _cases("smoke", "radius"))


def test_presets_are_named_by_their_keys():
    assert {"smoke", "paper"} <= set(PRESETS)
    for key, preset in PRESETS.items():
        assert preset.name == key


# -- skip_reason ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "strength", "skipped"),
    [(200, 0.0, True), (200, 0.01, False), (10, 0.05, True), (10, 0.1, False), (100, 0.009, True), (1, 1.0, False)],
)
def test_skip_reason(steps, strength, skipped):
    case = Case("strength", ImageSource("coffee"), 0.8, strength, 0, steps)
    reason = skip_reason(case, RULE)
    if skipped:
        assert reason == (f"strength {strength:g} with {steps} steps leaves 0 denoising steps in "
                          "int(steps x strength): nothing would be inpainted")
    else:
        assert reason is None


def test_skip_reason_asks_the_pipelines_rule_not_a_formula():
    class FlowRule:  # flow matching keeps n - int(n - n x s): 1 step at 10 x 0.05
        def refuses(self, steps, strength):
            return steps - int(steps - steps * strength) < 1

        def rule(self):
            return "flow"

    case = Case("strength", ImageSource("coffee"), 0.8, 0.05, 0, 10)
    assert skip_reason(case, RULE) is not None and skip_reason(case, FlowRule()) is None
    floor = Case("floor", ImageSource("coffee"), 0.8, None, None, 10)
    assert skip_reason(floor, RULE) is None


# -- build_cases ------------------------------------------------------------------------------------


def test_seeds_repeat_cases():
    preset = PRESETS["smoke"]
    sources = [ImageSource("coffee")]
    one = build_cases("strength", preset, sources, steps=7, seeds=[0])
    three = build_cases("strength", preset, sources, steps=7, seeds=[0, 1, 2])
    assert len(three) == 3 * len(one)
    # each grid point is repeated over the seeds, in order, with everything else equal
    for i, base in enumerate(one):
        group = three[3 * i : 3 * i + 3]
        assert [c.seed for c in group] == [0, 1, 2]
        assert {(c.image, c.radius, c.strength, c.steps) for c in group} == {
            (base.image, base.radius, base.strength, base.steps)
        }
        assert [c.case_id for c in group] == [base.case_id[: -len("seed0")] + f"seed{s}" for s in (0, 1, 2)]
    assert all(c.steps == 7 for c in three)  # the steps argument, not the preset's


def test_radius_grid_order_and_floor_ignores_seeds():
    preset = PRESETS["smoke"]
    sources = [ImageSource("coffee"), ImageSource("astronaut")]
    cases = build_cases("radius", preset, sources, steps=10, seeds=[0])
    expected = [
        (src.name, r, s) for src in sources for s in preset.radius_strengths for r in preset.radii
    ]
    assert [(c.image.name, c.radius, c.strength) for c in cases] == expected
    assert all(c.experiment == "radius" for c in cases)
    floor = build_cases("floor", preset, sources, steps=10, seeds=[0, 1, 2])
    assert len(floor) == 2
    assert all(c.strength is None and c.seed is None and c.experiment == "floor" for c in floor)


def test_duplicate_seeds_give_duplicate_ids():
    with pytest.raises(ValueError, match="duplicate case ids"):
        build_cases("strength", PRESETS["smoke"], [ImageSource("coffee")], steps=10, seeds=[0, 0])


def test_unknown_experiment():
    with pytest.raises(ValueError, match="unknown experiment 'speed'"):
        build_cases("speed", PRESETS["smoke"], [ImageSource("coffee")], steps=10, seeds=[0])


def test_case_as_dict():
    case = Case("strength", ImageSource("coffee"), 0.8, 0.42, 3, 200)
    assert case.as_dict() == {
        "experiment": "strength",
        "image": "coffee",
        "radius": 0.8,
        "strength": 0.42,
        "seed": 3,
        "steps": 200,
        "mask": "disc",
        "area": None,
        "mitigation": None,
        "mitigation_px": None,
        "case_id": "coffee-s0.42-r0.80-seed3",
    }


# -- resolve_images (--leak-images) -----------------------------------------------------------------


def _write_images(folder, names):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(folder / name)
    return folder


def test_resolve_bundled_names():
    sources = resolve_images(["coffee", "alpine-lake"])
    assert sources == [ImageSource("coffee"), ImageSource("alpine-lake")]
    assert all(s.path is None for s in sources)
    np.testing.assert_array_equal(sources[0].load(), images.load_bundled("coffee"))


def test_resolve_folder_of_user_images(tmp_path):
    folder = _write_images(tmp_path / "mine", ["b.jpg", "my photo [1].png", "a:b.png", "c.PNG"])
    (folder / "notes.txt").write_text("ignored")
    sources = resolve_images(["coffee", str(folder)])
    assert [s.name for s in sources] == ["coffee", "a_b", "b", "c", "my_photo_1_"]
    assert sources[0].path is None
    assert [s.path for s in sources[1:]] == [
        str(folder / "a:b.png"),
        str(folder / "b.jpg"),
        str(folder / "c.PNG"),
        str(folder / "my photo [1].png"),
    ]
    loaded = sources[2].load()
    assert loaded.shape == (16, 24, 3) and loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, images.load_image(folder / "b.jpg"))
    # their ids are plain pytest ids
    cases = build_cases("strength", PRESETS["smoke"], sources, steps=10, seeds=[0])
    assert "my_photo_1_-s0.20-r0.80-seed0" in {c.case_id for c in cases}
    assert all(ID_PATTERN.match(c.case_id) for c in cases)


def test_resolve_unknown_entry(tmp_path):
    with pytest.raises(ValueError, match="'no-such-image' is neither a bundled image name"):
        resolve_images(["coffee", "no-such-image"])
    missing = str(tmp_path / "missing-folder")
    with pytest.raises(ValueError, match=re.escape(repr(missing))):
        resolve_images([missing])


def test_resolve_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        resolve_images([str(tmp_path)])


def test_resolve_duplicates(tmp_path):
    with pytest.raises(ValueError, match="more than once: coffee"):
        resolve_images(["coffee", "coffee"])
    folder = _write_images(tmp_path / "clash", ["coffee.png"])
    with pytest.raises(ValueError, match="more than once: coffee"):
        resolve_images(["coffee", str(folder)])
    folder = _write_images(tmp_path / "stems", ["a.png", "a.jpg"])
    with pytest.raises(ValueError, match="more than once: a"):
        resolve_images([str(folder)])
    folder = _write_images(tmp_path / "unsafe", ["x y.png", "x_y.png"])  # equal once made id-safe
    with pytest.raises(ValueError, match="more than once: x_y"):
        resolve_images([str(folder)])


def test_experiments():
    assert EXPERIMENTS == ("strength", "radius", "floor", "masks", "mitigation")


# -- the masks and mitigation experiments ----------------------------------------------------------


def test_smoke_adds_a_handful_of_mask_and_mitigation_cases_on_its_first_image():
    masks_cases, mitigation_cases = _cases("smoke", "masks"), _cases("smoke", "mitigation")
    assert [c.case_id for c in masks_cases] == [
        f"coffee-{family}-a0.20-s0.50-seed0" for family in ("disc", "box", "strokes-thin", "strokes-medium",
                                                              "strokes-thick")]
    assert [c.case_id for c in mitigation_cases] == [
        f"coffee-{name}-s{s:.2f}-r0.50-seed0" for s in (0.5, 1.0) for name in ("none", "paste", "blend", "crop", "dilate")]
    widths = {c.mitigation: c.mitigation_px for c in mitigation_cases}
    assert widths == {"none": None, "paste": None, "blend": 4, "crop": 8, "dilate": None}
    assert all(c.radius is None and c.area == 0.2 for c in masks_cases)


def test_paper_masks_and_mitigations_cover_every_image():
    paper = PRESETS["paper"]
    assert paper.resize == "study" and PRESETS["smoke"].resize == "crop"
    masks_cases = _cases("paper", "masks")
    assert len(masks_cases) == 20 * 5 * len(paper.mask_areas) * len(paper.mask_strengths)
    assert {c.area for c in masks_cases} == set(paper.mask_areas)
    assert len(_cases("paper", "mitigation")) == 20 * 2 * 5
    assert "motorcycle-strokes-thin-a0.30-s0.90-seed0" in {c.case_id for c in masks_cases}


def test_user_masks_add_a_user_case_per_image_and_strength(tmp_path):
    folder = _write_images(tmp_path / "photos", ["holiday.png", "garden.jpg"])
    masks_folder = tmp_path / "masks"
    masks_folder.mkdir()
    for stem in ("holiday", "garden", "coffee"):
        values = np.zeros((16, 24), np.uint8)
        values[4:12, 6:18] = 255
        Image.fromarray(values).save(masks_folder / f"{stem}.png")
    sources = attach_user_masks(resolve_images(["coffee", str(folder)]), str(masks_folder))
    assert [Path(s.mask).name for s in sources] == ["coffee.png", "garden.png", "holiday.png"]
    cases = build_cases("masks", PRESETS["smoke"], sources, steps=10, seeds=[0, 1])
    user = [c.case_id for c in cases if c.mask == "user"]
    assert user == [f"{name}-user-s0.50-seed{seed}" for name in ("coffee", "garden", "holiday") for seed in (0, 1)]
    assert len(cases) == 5 * 2 + len(user)  # the built-in families still run on the first image only


def test_user_masks_errors_name_the_problem(tmp_path):
    masks_folder = tmp_path / "masks"
    masks_folder.mkdir()
    Image.fromarray(np.zeros((16, 24), np.uint8)).save(masks_folder / "coffee.png")
    with pytest.raises(ValueError, match=r"no mask for image\(s\) astronaut"):
        attach_user_masks(resolve_images(["coffee", "astronaut"]), str(masks_folder))
    with pytest.raises(ValueError, match="coffee.png is empty"):
        attach_user_masks(resolve_images(["coffee"]), str(masks_folder))


def test_mask_and_mitigation_ids():
    source = ImageSource("coffee")
    assert Case("masks", source, None, 0.5, 0, 10, mask="strokes-thin", area=0.2).case_id == \
        "coffee-strokes-thin-a0.20-s0.50-seed0"
    assert Case("masks", source, None, 0.9, 2, 10, mask="user").case_id == "coffee-user-s0.90-seed2"
    assert Case("mitigation", source, 0.5, 1.0, 0, 10, mitigation="blend", mitigation_px=4).case_id == \
        "coffee-blend-s1.00-r0.50-seed0"
