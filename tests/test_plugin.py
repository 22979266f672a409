"""The plugin as users run it: pytester projects running this repo's benchmarks on the tiny pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from harness import masks
from harness.cases import PRESETS, build_cases, resolve_images
from harness.store import Store

# A sweep small enough for the CPU: one image at 64 px, 4 steps.
FAST = ["--leak-images", "coffee", "--leak-max-side", "64", "--leak-steps", "4", "-p", "no:cacheprovider"]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _collected_ids(result: pytest.RunResult) -> list[str]:
    return [line.split("[", 1)[1].rstrip("]") for line in result.outlines if "::" in line and "[" in line]


def test_k_strength_collects_exactly_the_strength_cases(leak_project):
    result = leak_project.runpytest("benchmarks", "-k", "strength", "--collect-only", "-q", *FAST)
    expected = [c.case_id for c in build_cases("strength", PRESETS["smoke"], resolve_images(["coffee"]),
                                               steps=4, seeds=[0])]
    assert _collected_ids(result) == expected
    assert all("test_strength.py::test_strength[" in ln for ln in result.outlines if "::" in ln)


def test_k_selects_by_image_and_strength(leak_project):
    result = leak_project.runpytest("benchmarks", "--collect-only", "-q", "-k", "s0.90", *FAST[2:],
                                    "--leak-images", "coffee,astronaut")
    ids = _collected_ids(result)
    assert ids and all("-s0.90-" in i for i in ids)
    assert {i.split("-s")[0] for i in ids} == {"coffee", "astronaut"}


def test_strength_run_records_one_row_per_case_with_true_metrics(leak_project):
    result = leak_project.runpytest("benchmarks", "-k", "strength", *FAST)
    # strengths 0.0, 0.1 and 0.2 leave int(4 x s) = 0 steps in SD's get_timesteps: skipped, with the reason
    result.assert_outcomes(passed=8, skipped=3)
    result.stdout.fnmatch_lines(["*inpainting leakage*", "strength*11 cases (8 passed, 3 skipped)*", "store: *"])
    # the session closed the store: the write-ahead log is in the .sqlite file, which is the whole store
    assert not (leak_project.path / "reports" / "leakage.sqlite-wal").exists()
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    # the run's own report, and the stable copy of the latest run's
    report = leak_project.path / "reports" / f"leakage-{store.latest_run_id()}.html"
    assert result.outlines[-1] == f"leakage report: {report}" and report.stat().st_size > 0
    assert (leak_project.path / "reports" / "leakage.html").read_bytes() == report.read_bytes()
    frame = store.frame()
    assert len(frame) == 11 and frame.case_id.is_unique
    assert sorted(frame.status) == ["passed"] * 8 + ["skipped"] * 3
    skipped = frame[frame.status == "skipped"]
    assert all("0 denoising steps" in m for m in skipped.message)
    for row in frame[frame.status == "passed"].itertuples():
        # recompute from the saved PNGs with a different formula: sum of squares / element count
        root = store.path.parent
        original = np.asarray(Image.open(root / "artifacts" / row.run_id / "originals" / "coffee.png"), np.int64)
        output = np.asarray(Image.open(root / row.artifact), np.int64)
        mask = masks.disc_mask(row.height, row.width, row.radius)
        outside = ~mask
        expected = ((output - original) ** 2 * outside[..., None]).sum() / (3 * outside.sum())
        assert row.mse_outside == pytest.approx(expected, rel=1e-12)
        assert row.n_outside == outside.sum()
        assert row.steps_run >= 1 and row.seconds > 0
    run = store.run()
    assert run["status"] == "passed" and run["preset"] == "smoke"
    assert run["fingerprint"]["denoiser"]["in_channels"] == 4
    # the smoke preset keeps the scheduler the folder ships, and records which one ran
    assert run["fingerprint"]["scheduler_class"] == run["options"]["scheduler"] == "PNDMScheduler"


def test_xdist_gives_the_same_rows_as_one_process(leak_project):
    args = ("benchmarks", "-k", "radius", *FAST)
    leak_project.runpytest_subprocess(*args, "-n", "0").assert_outcomes(passed=10, skipped=5)
    leak_project.runpytest_subprocess(*args, "-n", "2").assert_outcomes(passed=10, skipped=5)
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    runs = store.runs()
    assert len(runs) == 2 and list(runs.cases) == [15, 15]
    columns = ["case_id", "status", "mse_outside", "mae_outside", "max_abs_outside", "changed_frac", "n_outside"]
    single, double = (store.frame(r)[columns].reset_index(drop=True) for r in runs.run_id)
    assert single.equals(double)
    assert store.run()["fingerprint"]["torch_threads"] == 1 and store.run()["options"]["threads"] == 1


def test_a_case_that_raises_leaves_the_other_rows_and_a_failed_run(leak_project):
    leak_project.makepyfile(**{"benchmarks/test_strength": """
        import pytest
        pytestmark = pytest.mark.leakage("strength")

        def test_strength(leak_case, leak_measure):
            if leak_case.strength == 0.6:
                raise RuntimeError("planted failure")
            leak_measure(leak_case)
    """})
    result = leak_project.runpytest("benchmarks", "-k", "strength", *FAST)
    result.assert_outcomes(passed=7, failed=1, skipped=3)
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    frame = store.frame().set_index("case_id")
    assert len(frame) == 11
    failed = frame.loc["coffee-s0.60-r0.80-seed0"]
    assert failed.status == "failed" and "planted failure" in failed.message and math.isnan(failed.mse_outside)
    assert store.run()["status"] == "failed"


def test_an_interrupted_run_keeps_its_rows_and_says_so(leak_project):
    leak_project.makepyfile(**{"benchmarks/test_strength": """
        import pytest
        pytestmark = pytest.mark.leakage("strength")

        def test_strength(leak_case, leak_measure):
            if leak_case.strength == 0.8:
                raise KeyboardInterrupt
            leak_measure(leak_case)
    """})
    # in a subprocess: an in-process run would pass the KeyboardInterrupt on to this session
    result = leak_project.runpytest_subprocess("benchmarks", "-k", "strength", *FAST)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    assert store.run()["status"] == "interrupted"
    frame = store.frame()
    assert set(frame.case_id) >= {"coffee-s0.40-r0.80-seed0", "coffee-s0.60-r0.80-seed0"}
    assert (frame[frame.status == "passed"].mse_outside > 0).all()


def test_constant_output_fails_but_is_recorded_and_flagged(leak_project):
    leak_project.makepyfile(**{"benchmarks/test_strength": """
        import numpy as np
        import pytest
        pytestmark = pytest.mark.leakage("strength")

        @pytest.fixture
        def blank(inpainter, monkeypatch):
            # what a safety checker does: a black frame
            # (plain calls go through inpaint_batch, one case or a batch)
            monkeypatch.setattr(inpainter, "inpaint_batch", lambda images, masks, **kw: [np.zeros_like(i) for i in images])
            monkeypatch.setattr(inpainter, "last_timing", None)

        def test_strength(leak_case, blank, leak_measure):
            leak_measure(leak_case)
    """})
    result = leak_project.runpytest("benchmarks", "-k", "strength and s1.00", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*coffee-s1.00-r0.80-seed0: output is a constant image*"])
    row = Store(leak_project.path / "reports" / "leakage.sqlite").frame().iloc[0]
    assert row.status == "failed" and row["flags"] == ["constant_output"] and "constant image" in row.message


@pytest.mark.parametrize(
    "args, message",
    [
        (["--leak-seeds", "0"], "*argument --leak-seeds: '0' must be >= 1*"),
        (["--leak-device", "gpu"], "*'gpu' is not a device; use auto, cpu, cuda or cuda:N*"),
        (["--leak-preset", "huge"], "*'huge' is not one of: smoke, paper*"),
        (["--leak-images", "nosuch"], "*leakage: --leak-images entry 'nosuch' is neither a bundled image name*"),
        (["--leak-images", "coffee,,rocket"], "*has an empty entry*"),
        (["--leak-max-side", "big"], "*'big' is not an integer*"),
    ],
)
def test_bad_option_values_fail_at_parse_time(leak_project, args, message):
    result = leak_project.runpytest("benchmarks", "--collect-only", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_pyproject_value_fails_at_start_naming_where(leak_project):
    leak_project.makefile(".toml", pyproject='[tool.pytest.ini_options]\n[tool.leakage]\nsteps = "many"\n')
    result = leak_project.runpytest("benchmarks", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.leakage[]] steps: 'many' is not an integer*"])


def test_pyproject_defaults_apply_and_command_line_wins(leak_project):
    leak_project.makefile(".toml", pyproject='[tool.pytest.ini_options]\n[tool.leakage]\nimages = ["rocket"]\n')
    ids = _collected_ids(leak_project.runpytest("benchmarks", "-k", "floor", "--collect-only", "-q"))
    assert ids == ["rocket-r0.80"]
    ids = _collected_ids(leak_project.runpytest("benchmarks", "-k", "floor", "--collect-only", "-q",
                                                "--leak-images", "coffee"))
    assert ids == ["coffee-r0.80"]


def test_help_shows_the_options_in_one_group(leak_project):
    result = leak_project.runpytest("--help")
    text = result.stdout.str()
    group = text[text.index("inpainting leakage"):]
    for option in ("--leak-pipeline", "--leak-preset", "--leak-images", "--leak-max-side", "--leak-steps",
                   "--leak-seed", "--leak-seeds", "--leak-device", "--leak-dtype", "--leak-store", "--leak-run-name",
                   "--leak-resize", "--leak-masks"):
        assert option in group


def test_paper_preset_collects_the_study_design(leak_project):
    result = leak_project.runpytest("benchmarks", "--collect-only", "-q", "--leak-preset", "paper")
    nodeids = [ln for ln in result.outlines if "::" in ln]
    by_test = {name: [n for n in nodeids if f"::test_{name}[" in n] for name in ("strength", "radius", "floor")}
    # 20 images x 100 strengths + 20 x 50 radii x 3 strengths + 20 floors; 20 strength-0 cases will skip
    assert {k: len(v) for k, v in by_test.items()} == {"strength": 2000, "radius": 3000, "floor": 20}
    assert len(set(nodeids)) == len(nodeids)
    assert not (leak_project.path / "reports").exists()  # collecting records no run
    assert sum(n.endswith("-s0.00-r0.80-seed0]") for n in by_test["strength"]) == 20


# -- masks, mitigations and the excess over the floor -------------------------------------------------


def _frame(project) -> "pd.DataFrame":  # noqa: F821 - pandas comes with the store
    return Store(project.path / "reports" / "leakage.sqlite").frame().set_index("case_id")


def test_mitigations_on_smoke(leak_project):
    result = leak_project.runpytest("benchmarks", "-k", "mitigation", *FAST)
    result.assert_outcomes(passed=10)
    rows = _frame(leak_project)
    for strength in ("0.50", "1.00"):
        row = {name: rows.loc[f"coffee-{name}-s{strength}-r0.50-seed0"] for name in
               ("none", "paste", "blend", "crop", "dilate")}
        assert row["paste"].mse_outside == 0.0 and row["crop"].mse_outside == 0.0  # exactly
        assert 0.0 < row["blend"].mse_outside < row["none"].mse_outside
        assert row["paste"].seam > 0
        assert row["blend"].mitigation_px == 4 and row["crop"].mitigation_px == 8 and row["dilate"].mitigation_px == 8
        # paste and blend post-process the very call that none measured
        assert row["paste"].seconds == row["blend"].seconds == row["none"].seconds
        assert row["none"].mse_excess == pytest.approx(row["none"].mse_outside - row["none"].mse_floor)


def test_masks_experiment_with_user_masks(leak_project):
    photos, mask_dir = leak_project.mkdir("photos"), leak_project.mkdir("my-masks")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (96, 144, 3), dtype=np.uint8)).save(photos / "holiday.png")
    values = np.zeros((48, 72), np.uint8)  # half resolution: fitted with nearest neighbour
    values[10:30, 20:50] = 255
    Image.fromarray(values).save(mask_dir / "holiday.png")
    args = ["--leak-images", str(photos), "--leak-masks", "my-masks", *FAST[2:]]
    ids = _collected_ids(leak_project.runpytest("benchmarks", "-k", "masks", "--collect-only", "-q", *args))
    assert ids == [f"holiday-{f}-a0.20-s0.50-seed0" for f in ("disc", "box", "strokes-thin", "strokes-medium",
                                                             "strokes-thick")] + ["holiday-user-s0.50-seed0"]
    leak_project.runpytest("benchmarks", "-k", "masks", *args).assert_outcomes(passed=6)
    rows = _frame(leak_project)
    # the image's plan: 96x144 -> 43x64 (longest side 64) -> rows 1..40 (multiples of 8); the mask
    # goes to the image's size, then the same way, all by nearest neighbour
    full = Image.fromarray(values).resize((144, 96), Image.Resampling.NEAREST)
    expected = np.asarray(full.resize((64, 43), Image.Resampling.NEAREST))[1:41] > 0
    assert rows.loc["holiday-user-s0.50-seed0"].mask_area == pytest.approx(expected.mean())
    assert (abs(rows.mask_area[rows["mask"] != "user"] - 0.2) <= 0.02).all()
    assert Store(leak_project.path / "reports" / "leakage.sqlite").run()["options"]["masks"] == "my-masks"


@pytest.mark.parametrize(("values", "message"), [
    (None, "*leakage: --leak-masks * has no mask for image(s) coffee (a mask pairs with an image by file stem*"),
    (np.arange(64, dtype=np.uint8).reshape(8, 8), "*leakage: mask *coffee.png is not binary: it has 64 grey levels*"),
])
def test_bad_user_masks_stop_the_session_before_anything_runs(leak_project, values, message):
    folder = leak_project.mkdir("m")
    Image.fromarray(values if values is not None else np.zeros((8, 8), np.uint8)).save(
        folder / ("coffee.png" if values is not None else "other.png"))
    result = leak_project.runpytest("benchmarks", "-k", "masks", "--leak-masks", "m", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (leak_project.path / "reports").exists()


def test_mse_excess_subtracts_the_round_trip_computed_here(leak_project):
    from harness.pipelines import load_inpainter

    leak_project.runpytest("benchmarks", "-k", "s0.80 and strength", *FAST).assert_outcomes(passed=1)
    row = Store(leak_project.path / "reports" / "leakage.sqlite").frame().iloc[0]
    root = leak_project.path / "reports"
    original = np.asarray(Image.open(root / "artifacts" / row.run_id / "originals" / "coffee.png"))
    output = np.asarray(Image.open(root / row.artifact), np.float64)
    floor = load_inpainter("tiny", device="cpu").vae_roundtrip(original).astype(np.float64)
    outside = ~masks.disc_mask(row.height, row.width, row.radius)
    floor_mse = ((floor - original) ** 2)[outside].sum() / (3 * outside.sum())
    total = ((output - original) ** 2)[outside].sum() / (3 * outside.sum())
    assert row.mse_floor == pytest.approx(floor_mse, rel=1e-6)
    assert row.mse_excess == pytest.approx(total - floor_mse, rel=1e-6)
    assert row.mse_excess != pytest.approx(row.mse_outside)  # the floor is not nothing


def test_study_resize_prepares_to_multiples_of_32(leak_project):
    leak_project.runpytest("benchmarks", "-k", "floor", "--leak-resize", "study", *FAST).assert_outcomes(passed=1)
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    row = store.frame().iloc[0]
    # coffee 400x600 -> longest side 64 -> 42x64 -> floored to 32x64; radius 0.8 x 16 = 12.8 -> 12 px
    assert (row.height, row.width, row.radius_px) == (32, 64, 12.0)
    assert store.run()["options"]["resize"] == "study"


def test_crop_on_a_pipeline_without_padding_mask_crop_is_skipped_and_recorded(leak_project):
    leak_project.makepyfile(**{"benchmarks/test_mitigation": """
        import pytest
        pytestmark = pytest.mark.leakage("mitigation")

        @pytest.fixture
        def no_crop(inpainter, monkeypatch):
            monkeypatch.setattr(inpainter, "accepts", lambda name: False)

        def test_mitigation(leak_case, no_crop, leak_measure):
            leak_measure(leak_case)
    """})
    result = leak_project.runpytest("benchmarks", "-k", "crop", *FAST)
    result.assert_outcomes(skipped=2)
    rows = _frame(leak_project)
    assert list(rows.status) == ["skipped", "skipped"] and list(rows.mitigation_px) == [8, 8]
    assert all(m == "StableDiffusionInpaintPipeline.__call__ takes no padding_mask_crop" for m in rows.message)
