"""The ``--leak-*`` options: parsers that reject bad values, and defaults from pyproject.toml.

Each option's value comes from, in order: the command line, ``[tool.pytest.ini_options]``
(``leak_pipeline = ...``), ``[tool.leakage]`` in ``pyproject.toml`` (``pipeline = ...``), the
built-in default. Values from files go through the same parser as the command line, so a bad
value is rejected the same way wherever it was written.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["Option", "OPTIONS", "LeakageOptions", "MAX_SEED", "read_tool_config", "resolve_options", "seed_range"]

#: The largest noise seed: torch's ``Generator.manual_seed`` takes values below 2**64, and the
#: store keeps seeds in an SQLite INTEGER, which is signed 64-bit; 2**63 - 1 fits both.
MAX_SEED = 2**63 - 1


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    return parse


def _int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{value!r} must be >= {low}")
        if high is not None and number > high:
            raise argparse.ArgumentTypeError(f"{value!r} must be <= {high} (2**63 - 1)")
        return number

    return parse


def parse_device(value: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    if value in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a device; use auto, cpu, cuda or cuda:N")


def parse_names(value: str) -> list[str]:
    """A comma-separated list (``coffee,astronaut``); empty entries are errors."""
    items = [v.strip() for v in str(value).split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"{value!r} has an empty entry; separate names with single commas")
    return items


def parse_pipeline_class(value: str) -> str:
    """A diffusers inpainting class a family adapter drives (the registry's names)."""
    from harness.pipelines.families import FAMILIES, refusal

    if value not in FAMILIES:
        raise argparse.ArgumentTypeError(refusal(str(value)))
    return value


def parse_scheduler(value: str) -> str:
    """``model`` or a class name; whether diffusers has it and it fits the model is checked at start."""
    if not str(value).isidentifier():
        raise argparse.ArgumentTypeError(f"{value!r} is not a scheduler class name; use model or e.g. PNDMScheduler")
    return str(value)


def parse_batch(value: str) -> str | int:
    """``auto`` (1 on the CPU, 8 on CUDA) or a positive number of cases per pipeline call."""
    if str(value) == "auto":
        return "auto"
    try:
        number = int(str(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a batch size; use auto or a positive integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 1 (or auto)")
    return number


def parse_shard(value: str) -> str:
    """``K/N``: this machine runs shard K of N (1 <= K <= N)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{value!r} is not a shard; use K/N with 1 <= K <= N, e.g. 2/4")
    return f"{int(match[1])}/{int(match[2])}"


def parse_text(value: str) -> str:
    if not str(value).strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return str(value)


@dataclass(frozen=True)
class Option:
    """One ``--leak-<name>`` option."""

    name: str  # attribute name, e.g. "max_side" for --leak-max-side
    parse: Callable[[str], Any] | None
    default: Any
    help: str
    metavar: str | None = None
    flag: bool = False  # store_true

    @property
    def cli(self) -> str:
        return "--leak-" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("pipeline", parse_text, "tiny", "pipeline to measure: tiny | tiny-9ch | a diffusers folder | a hub id", "REF"),
    Option("pipeline_class", parse_pipeline_class, None, "load the pipeline with this diffusers class (e.g. "
           "FluxFillPipeline, StableDiffusionInpaintPipelineLegacy) instead of the one it names", "NAME"),
    Option("scheduler", parse_scheduler, None, "model (the scheduler the pipeline ships) or a diffusers scheduler "
           "class that fits it (default: the preset's: model for smoke, PNDMScheduler for paper)", "NAME"),
    Option("preset", _choice("smoke", "paper"), "smoke", "sweep design: smoke (fast) | paper (the 2023 study)", "NAME"),
    Option("images", parse_names, None, "comma-separated bundled image names and/or folders of images (default: the preset's)", "LIST"),
    Option("max_side", _int_at_least(8), None, "longest image side in pixels (default: the preset's)", "PX"),
    Option("steps", _int_at_least(1), None, "denoising steps at strength 1 (default: the preset's)", "N"),
    Option("seed", _int_at_least(0, MAX_SEED), 0, "noise seed of every case (0 to 2**63-1)", "N"),
    Option("seeds", _int_at_least(1), 1, "repeat every case over N seeds (seed, seed+1, ...)", "N"),
    Option("device", parse_device, "auto", "auto | cpu | cuda | cuda:N (xdist worker gwK takes cuda:K%%n)", "DEV"),
    Option("dtype", _choice("auto", "float32", "float16", "bfloat16"), "auto", "weights dtype: auto = float16 on CUDA, float32 on CPU", "DTYPE"),
    Option("threads", _int_at_least(1), 1, "torch CPU threads per process; results depend on it in the last "
           "bits, so the default is the same everywhere", "N"),
    Option("store", parse_text, "reports/leakage.sqlite", "results store (SQLite), relative to the rootdir", "PATH"),
    Option("run_name", parse_text, None, "a name for this run in the store", "NAME"),
    Option("artifacts", _choice("all", "none"), "all", "save every output PNG under reports/artifacts/RUN (all) or none", "WHICH"),
    Option("paste_back", None, False, "paste the original back outside the mask (a control: leakage must be 0)", flag=True),
    Option("summary_md", parse_text, None, "also write the run's and the gate's summary as Markdown to PATH "
           "(CI step summaries; appended to $GITHUB_STEP_SUMMARY when set, whatever this says)", "PATH"),
    Option("resize", _choice("crop", "study"), None, "how images reach legal sizes: crop (keep the aspect, centre-crop) "
           "| study (the 2023 study's stretch to multiples of 32) (default: the preset's)", "MODE"),
    Option("masks", parse_text, None, "a folder of your masks, paired with --leak-images files by file stem "
           "(the masks experiment then also measures them)", "FOLDER"),
    Option("batch", parse_batch, "auto", "cases per pipeline call: auto (1 on the CPU, 8 on CUDA) or N; cases that "
           "can share a call (same size, strength, steps, call options) are grouped", "N"),
    Option("reuse", None, False, "copy the row of an identical earlier measurement from the store instead of "
           "computing it again (same pipeline, versions, options and case)", flag=True),
    Option("shard", parse_shard, None, "run only shard K of N of the selected cases (whole batch groups, "
           "balanced by cost); `leakage merge` joins the shards' stores", "K/N"),
    Option("progress", _choice("auto", "on", "off"), "auto", "progress line (cases done, failed, rate, ETA): auto "
           "(shown unless -qq; plain lines every 10%% or 30 s when not a terminal) | on | off", "WHEN"),
)


@dataclass(frozen=True)
class LeakageOptions:
    """Resolved option values (see :data:`OPTIONS`)."""

    pipeline: str
    pipeline_class: str | None
    scheduler: str | None
    preset: str
    images: list[str] | None
    max_side: int | None
    steps: int | None
    seed: int
    seeds: int
    device: str
    dtype: str
    threads: int
    store: str
    run_name: str | None
    artifacts: str
    paste_back: bool
    summary_md: str | None
    resize: str | None
    masks: str | None
    batch: str | int = "auto"
    reuse: bool = False
    shard: str | None = None
    progress: str = "auto"

    def as_dict(self) -> dict:
        return {o.name: getattr(self, o.name) for o in OPTIONS}


def read_tool_config(rootpath: Path) -> dict:
    """The ``[tool.leakage]`` table of ``rootpath/pyproject.toml`` (empty when absent)."""
    path = rootpath / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    table = data.get("tool", {}).get("leakage", {})
    if not isinstance(table, dict):
        raise ValueError(f"[tool.leakage] in {path} must be a table")
    return table


def resolve_options(cli: dict, ini: dict, tool: dict) -> LeakageOptions:
    """Combine the sources; raise ``ValueError`` naming the source, option and bad value."""
    known = {o.name for o in OPTIONS}
    unknown = sorted(set(tool) - known - {"thresholds", "tolerances"})
    if unknown:
        raise ValueError(f"[tool.leakage] has unknown keys: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {}
    for opt in OPTIONS:
        if cli.get(opt.name) not in (None, False, []):
            values[opt.name] = cli[opt.name]  # already parsed by argparse
            continue
        for source, table, key in (
            ("[tool.pytest.ini_options]", ini, "leak_" + opt.name),
            ("[tool.leakage]", tool, opt.name),
        ):
            raw = table.get(key)
            if raw not in (None, ""):
                values[opt.name] = _parse_config_value(opt, raw, f"{source} {key}")
                break
        else:
            values[opt.name] = opt.default
    return LeakageOptions(**values)


def _parse_config_value(opt: Option, raw: Any, where: str) -> Any:
    if opt.flag:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1", "yes", "false", "0", "no"):
            return str(raw).lower() in ("true", "1", "yes")
        raise ValueError(f"{where} = {raw!r}: expected true or false")
    if isinstance(raw, list) and opt.name == "images":
        raw = ",".join(str(r) for r in raw)
    try:
        return opt.parse(str(raw))
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def seed_range(seed: int, count: int) -> list[int]:
    """``seed, seed+1, ..., seed+count-1``; ``ValueError`` when the last passes :data:`MAX_SEED`."""
    if seed + count - 1 > MAX_SEED:
        raise ValueError(f"--leak-seed {seed} with --leak-seeds {count} goes past the largest seed {MAX_SEED} "
                         "(2**63 - 1, what the store's INTEGER and torch's manual_seed both hold)")
    return list(range(seed, seed + count))
