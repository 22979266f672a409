"""Failing fast: a pipeline that cannot be measured stops the session before any case runs, and
one that fails to load stops it after the first case, with one message and a failed run."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines + result.errlines if line.strip()]


def _assert_usage_error(project: pytest.Pytester, result: pytest.RunResult, message: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakage: {message}"])
    assert len(_lines(result)) <= 3, _lines(result)
    assert not (project.path / "reports").exists()  # no run was started, no case ran


@pytest.mark.parametrize(("args", "message"), [
    (["--leak-pipeline", "/nonexistent"], "pipeline folder '/nonexistent' does not exist*"),
    (["--leak-device", "cuda:7"], "device 'cuda:7' asked for, but *"),
    (["--leak-scheduler", "PNDM"], "unknown scheduler 'PNDM'; did you mean PNDMScheduler?*"),
])
def test_an_unusable_pipeline_or_device_is_a_usage_error_before_any_case(leak_project, args, message):
    _assert_usage_error(leak_project, leak_project.runpytest("benchmarks", *args), message)


@pytest.mark.parametrize("args", [["--leak-pipeline", "/nonexistent"], ["--leak-device", "cuda:7"]])
def test_with_xdist_the_controller_refuses_before_starting_workers(leak_project, args):
    result = leak_project.runpytest_subprocess("benchmarks", "-n", "2", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len(_lines(result)) <= 3, _lines(result)
    assert not any("bringing up nodes" in line for line in result.outlines)
    assert not (leak_project.path / "reports").exists()


@pytest.mark.parametrize(("class_name", "reason"), [
    ("KandinskyV22InpaintPipeline", "Kandinsky decodes with a MoVQ*"),
    ("IFInpaintingPipeline", "DeepFloyd IF is a pixel-space cascade*"),
    ("StableDiffusionControlNetInpaintPipeline", "it needs a control image*"),
    ("QwenImageInpaintPipeline", "no family adapter drives it (supported: StableDiffusionInpaintPipeline, *"),
])
def test_a_folder_of_a_refused_class_names_it_and_why(leak_project, tmp_path, class_name, reason):
    folder = tmp_path / "model"
    (folder / "scheduler").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    result = leak_project.runpytest("benchmarks", "--leak-pipeline", str(folder))
    _assert_usage_error(leak_project, result, f"pipeline class {class_name} is not supported: {reason}")


def test_a_refused_pipeline_class_option_is_rejected_when_parsed(leak_project):
    result = leak_project.runpytest("benchmarks", "--leak-pipeline-class", "IFInpaintingPipeline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --leak-pipeline-class: pipeline class IFInpaintingPipeline is not "
                                 "supported: DeepFloyd IF is a pixel-space cascade*"])


def test_a_scheduler_that_does_not_fit_says_who_asked_for_it(leak_project, test_pipelines):
    flux = str(test_pipelines / "flux")
    result = leak_project.runpytest("benchmarks", "--leak-pipeline", flux, "--leak-preset", "paper")
    _assert_usage_error(leak_project, result, "scheduler PNDMScheduler does not fit FluxInpaintPipeline, which ships "
                        "FlowMatchEulerDiscreteScheduler; * (PNDMScheduler is asked for by the paper preset; "
                        "--leak-scheduler model runs the model's own)")
    # the model's own scheduler makes the study's design run on Flux
    result = leak_project.runpytest("benchmarks", "--leak-pipeline", flux, "--leak-preset", "paper",
                                    "--leak-scheduler", "model", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK


def test_collection_skips_by_the_pipelines_own_rule(leak_project, test_pipelines):
    """At 10 steps and strength 0.05 SD leaves no step (skipped); flow-matching SD3 runs one."""
    args = ["benchmarks", "-k", "strength and coffee and s0.00", "--leak-steps", "1", "--collect-only", "-q"]
    assert leak_project.runpytest(*args).ret == pytest.ExitCode.OK
    for folder, marked in (("sd", True), ("sd3", False)):
        result = leak_project.runpytest("benchmarks", "-k", "strength and coffee", "--leak-steps", "10", "-rs",
                                        "--leak-pipeline", str(test_pipelines / folder), "--leak-max-side", "16",
                                        "--leak-no-report", "--leak-artifacts", "none", "-p", "no:cacheprovider")
        frame = Store(leak_project.path / "reports" / "leakage.sqlite").frame().set_index("case_id")
        assert (frame.loc["coffee-s0.10-r0.80-seed0"].status == "skipped") is False  # int(10 x 0.1) = 1 for SD too
        assert frame.loc["coffee-s0.00-r0.80-seed0"].status == "skipped"
        if marked:
            result.stdout.fnmatch_lines(["*strength 0 with 10 steps leaves 0 denoising steps in "
                                         "StableDiffusionInpaintPipeline.get_timesteps with PNDMScheduler*"])


@pytest.fixture
def corrupt_pipeline(tmp_path, test_pipelines):
    """The sd test folder with its UNet weights overwritten in the middle of the header."""
    folder = tmp_path / "corrupt"
    shutil.copytree(test_pipelines / "sd", folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[10:200] = b"x" * 190
    weights.write_bytes(bytes(data))
    return folder


def _assert_one_load_failure(project: pytest.Pytester, result: pytest.RunResult, folder) -> None:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes().get("errors", result.parseoutcomes().get("error")) == 1
    message = f"cannot load pipeline '{folder}': could not load {folder} as StableDiffusionInpaintPipeline: "
    assert sum(line.startswith(message) for line in result.outlines) == 1  # the error block, once
    result.stdout.fnmatch_lines(["*pipeline not loaded: the session stopped after its first case*"])
    store = Store(project.path / "reports" / "leakage.sqlite")
    run = store.run()
    assert run["status"] == "failed" and run["message"].startswith(message)
    frame = store.frame()
    assert list(frame[frame.status == "error"].message.str.startswith(message)) == [True]


def test_a_pipeline_that_fails_to_load_stops_the_session_after_one_case(leak_project, corrupt_pipeline):
    result = leak_project.runpytest("benchmarks", "--leak-pipeline", str(corrupt_pipeline), "--leak-no-report")
    _assert_one_load_failure(leak_project, result, corrupt_pipeline)
    assert len(Store(leak_project.path / "reports" / "leakage.sqlite").frame()) <= 2  # not one row per case


def test_with_xdist_a_load_failure_is_reported_once_and_the_run_failed(leak_project, corrupt_pipeline):
    result = leak_project.runpytest_subprocess("benchmarks", "-n", "2", "--leak-pipeline", str(corrupt_pipeline),
                                               "--leak-no-report", "--leak-max-side", "32", "--leak-steps", "2")
    _assert_one_load_failure(leak_project, result, corrupt_pipeline)
    frame = Store(leak_project.path / "reports" / "leakage.sqlite").frame()
    others = frame[frame.message.str.contains("failed to load", na=False)]
    assert (others.status == "skipped").all()  # the other worker's first case: not run, said once


def test_a_session_without_leakage_cases_imports_neither_torch_nor_diffusers(pytester):
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\n")
    pytester.makeconftest("""
        import sys

        def pytest_unconfigure(config):
            print("heavy:", sorted({"torch", "diffusers"} & set(sys.modules)))
    """)
    pytester.makepyfile(test_plain="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-s")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["heavy: []"])
