"""Every family end to end, as users run it: ``pytest benchmarks --leak-pipeline FOLDER``."""

from __future__ import annotations

import pytest

from harness import images
from harness.store import Store

# max side 40 makes coffee (400 x 600) 24 x 40 in multiples of 8, but 16 x 32 in multiples of 16
FAST = ["--leak-max-side", "40", "--leak-steps", "4", "--leak-no-report", "--leak-artifacts", "none",
        "-p", "no:cacheprovider"]
#: strengths of the smoke sweep that leave no step at 4 steps: int(4 s) = 0 for SD and SDXL;
#: 4 - int(4 - 4 s) = 0 only at 0 under flow matching; none for the legacy class, which runs PLMS's
#: repeated timestep even then
SKIPPED = {"sd": {0.0, 0.1, 0.2}, "sd-9ch": {0.0, 0.1, 0.2}, "sdxl": {0.0, 0.1, 0.2}, "sd-legacy": set(),
           "sd3": {0.0}, "flux": {0.0}, "flux-fill": {0.0}}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_strength_sweep_and_the_floor_run_and_record_what_ran(family, leak_project, test_pipelines,
                                                                  family_inpainters, family_expectations):
    folder = test_pipelines / family
    result = leak_project.runpytest("benchmarks", "-k", "coffee and (strength or floor)", "--leak-pipeline",
                                    str(folder), *FAST)
    skipped = SKIPPED[family]
    result.assert_outcomes(passed=12 - len(skipped), skipped=len(skipped))
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    frame = store.frame()
    assert set(frame[frame.status == "skipped"].strength) == skipped
    measured = frame[frame.status == "passed"]
    multiple = family_inpainters[family].size_multiple
    height, width = images.prepare(images.load_bundled("coffee"), max_side=40, multiple=multiple).shape[:2]
    assert (height, width) == ((24, 40) if multiple == 8 else (16, 32))
    assert (measured.height == height).all() and (measured.width == width).all()  # the input's size
    floor = frame.set_index("case_id").loc["coffee-r0.80"]
    assert floor.status == "passed" and floor.steps_run == 0 and floor.mse_outside > 0

    run = store.run()
    pipeline_class, scheduler = family_expectations[family]
    fingerprint = run["fingerprint"]
    assert fingerprint["pipeline_class"] == run["options"]["pipeline_class"] == pipeline_class
    assert fingerprint["family"] == family_inpainters[family].family.name
    assert fingerprint["denoiser"]["class"] and fingerprint["text_encoders"]
    assert fingerprint["scheduler_class"] == run["options"]["scheduler"] == scheduler  # the folder's own


def test_paste_back_leaves_the_outside_exactly_unchanged(family, leak_project, test_pipelines, family_inpainters):
    result = leak_project.runpytest("benchmarks", "-k", "strength and coffee and (s0.50 or s1.00)", "--leak-pipeline",
                                    str(test_pipelines / family), "--leak-paste-back", *FAST)
    result.assert_outcomes(passed=2)
    frame = Store(leak_project.path / "reports" / "leakage.sqlite").frame()
    assert list(frame.mse_outside) == [0.0, 0.0] and (frame.mse_inside > 0).all()


def test_a_scheduler_asked_for_replaces_the_shipped_one_and_is_recorded(leak_project, test_pipelines,
                                                                       family_inpainters):
    """SDXL ships Euler; the study's PNDM can replace it (PLMS only), and the run says so."""
    result = leak_project.runpytest("benchmarks", "-k", "strength and coffee and s0.50", "--leak-pipeline",
                                    str(test_pipelines / "sdxl"), "--leak-scheduler", "PNDMScheduler", *FAST)
    result.assert_outcomes(passed=1)
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    run = store.run()
    assert run["options"]["scheduler"] == run["fingerprint"]["scheduler_class"] == "PNDMScheduler"
    assert run["fingerprint"]["scheduler_config"]["skip_prk_steps"] is True
    assert list(store.frame().steps_run) == [int(4 * 0.5) + 1]  # PLMS repeats its first timestep


def test_the_study_class_runs_the_embedded_pipeline(leak_project, family_inpainters):
    result = leak_project.runpytest("benchmarks", "-k", "strength and coffee and (s0.00 or s0.50)",
                                    "--leak-pipeline-class", "StableDiffusionInpaintPipelineLegacy", *FAST)
    result.assert_outcomes(passed=2)  # it runs strength 0 too, as the study did: PLMS's one evaluation
    store = Store(leak_project.path / "reports" / "leakage.sqlite")
    assert store.run()["fingerprint"]["pipeline_class"] == "StableDiffusionInpaintPipelineLegacy"
    assert list(store.frame().steps_run) == [1, 3]


def test_a_diffusers_without_the_legacy_class_is_told_at_the_start(leak_project, monkeypatch, family_inpainters):
    from harness.pipelines.families import StableDiffusionLegacy

    def gone(cls):
        raise AttributeError(cls.pipeline_class)

    monkeypatch.setattr(StableDiffusionLegacy, "load_class", classmethod(gone))
    result = leak_project.runpytest("benchmarks", "--leak-pipeline-class", "StableDiffusionInpaintPipelineLegacy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: leakage: pipeline class StableDiffusionInpaintPipelineLegacy is not in the "
                                 "installed diffusers *"])
