"""Option parsing and where defaults come from; device selection for xdist workers."""

from __future__ import annotations

import argparse

import pytest

from harness.devices import worker_device
from harness.options import OPTIONS, parse_device, parse_names, read_tool_config, resolve_options

NO_CLI = {o.name: None for o in OPTIONS}


def test_defaults_when_nothing_is_configured():
    options = resolve_options(NO_CLI, {}, {})
    assert options.pipeline == "tiny" and options.preset == "smoke" and options.store == "reports/leakage.sqlite"
    assert options.seeds == 1 and options.device == "auto" and options.paste_back is False
    assert options.threads == 1  # the same in every process, whatever the core count
    assert options.pipeline_class is None and options.scheduler is None  # the folder's class; the preset's scheduler


def test_pipeline_class_and_scheduler_from_the_tool_table():
    tool = {"pipeline_class": "FluxFillPipeline", "scheduler": "DDIMScheduler"}
    options = resolve_options(NO_CLI, {}, tool)
    assert (options.pipeline_class, options.scheduler) == ("FluxFillPipeline", "DDIMScheduler")


def test_command_line_beats_ini_beats_tool_table():
    tool = {"steps": 7, "seed": 3, "device": "cpu"}
    ini = {"leak_steps": "9"}
    options = resolve_options({**NO_CLI, "seed": 5}, ini, tool)
    assert (options.steps, options.seed, options.device) == (9, 5, "cpu")


def test_images_list_in_toml_and_flags_from_strings():
    options = resolve_options(NO_CLI, {"leak_paste_back": "true"}, {"images": ["coffee", "rocket"]})
    assert options.images == ["coffee", "rocket"] and options.paste_back is True


@pytest.mark.parametrize("tool, message", [
    ({"steps": 0}, r"\[tool.leakage\] steps: '0' must be >= 1"),
    ({"preset": "huge"}, r"\[tool.leakage\] preset: 'huge' is not one of: smoke, paper"),
    ({"paste_back": "maybe"}, "expected true or false"),
    ({"colour": "red"}, r"\[tool.leakage\] has unknown keys: colour"),
    ({"pipeline_class": "KandinskyV22InpaintPipeline"},
     r"\[tool.leakage\] pipeline_class: pipeline class KandinskyV22InpaintPipeline is not supported: Kandinsky"),
    ({"scheduler": "PNDM scheduler"}, r"\[tool.leakage\] scheduler: 'PNDM scheduler' is not a scheduler class name"),
])
def test_bad_config_values_name_their_source(tool, message):
    with pytest.raises(ValueError, match=message):
        resolve_options(NO_CLI, {}, tool)


def test_parsers():
    assert parse_device("cuda:3") == "cuda:3"
    assert parse_names("a, b") == ["a", "b"]
    for bad in ("gpu", "cuda:", "cuda:x"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a device"):
            parse_device(bad)


def test_tool_table_is_read_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.leakage]\nsteps = 4\n')
    assert read_tool_config(tmp_path) == {"steps": 4}
    (tmp_path / "pyproject.toml").write_text('[tool.leakage\n')
    with pytest.raises(ValueError, match="is not valid TOML"):
        read_tool_config(tmp_path)
    assert read_tool_config(tmp_path / "nowhere") == {}


@pytest.mark.parametrize("requested, worker, gpus, expected", [
    ("auto", None, 0, "cpu"),
    ("auto", "gw3", 0, "cpu"),
    ("auto", None, 2, "cuda:0"),
    ("auto", "gw3", 2, "cuda:1"),
    ("cuda", "gw4", 4, "cuda:0"),
    ("cuda:1", "gw0", 4, "cuda:1"),
    ("cpu", "gw1", 4, "cpu"),
])
def test_worker_device_spreads_workers_over_gpus(requested, worker, gpus, expected):
    assert worker_device(requested, worker, cuda_count=gpus) == expected


def test_asking_for_cuda_without_a_gpu_is_an_error():
    with pytest.raises(ValueError, match="--leak-device cuda was asked for, but torch sees no CUDA device"):
        worker_device("cuda", None, cuda_count=0)
