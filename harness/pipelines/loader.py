"""``load_inpainter``: resolve a reference, a device and a dtype, and load the pipeline."""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from . import schedulers
from .errors import PipelineLoadError
from .families import UnsupportedPipelineError
from .spec import PipelineSpec, resolve_spec

if TYPE_CHECKING:
    from .inpainter import Inpainter

__all__ = ["load_inpainter", "check_device", "resolve_device", "resolve_dtype", "DTYPES"]

#: dtype names accepted by :func:`load_inpainter` besides ``"auto"``.
DTYPES = ("float32", "float16", "bfloat16")
_DEVICE_PATTERN = re.compile(r"^(cpu|cuda|cuda:\d+)$")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda:<current>"`` if CUDA is available, else ``"cpu"``.

    Raises
    ------
    ValueError
        If ``device`` is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    PipelineLoadError
        If a CUDA device is asked for but not present.
    """
    if device != "auto" and not (isinstance(device, str) and _DEVICE_PATTERN.match(device)):
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    import torch

    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if not torch.cuda.is_available():
        raise PipelineLoadError(f"device {device!r} asked for, but torch sees no CUDA device "
                                f"(torch {torch.__version__}); use device='cpu'")
    if device in ("auto", "cuda"):
        return f"cuda:{torch.cuda.current_device()}"
    index = int(device.split(":")[1])
    if index >= torch.cuda.device_count():
        raise PipelineLoadError(f"device {device!r} asked for, but only {torch.cuda.device_count()} "
                                "CUDA device(s) are visible")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"`` -> ``"float16"`` on CUDA, ``"float32"`` on the CPU.

    Raises
    ------
    ValueError
        If ``dtype`` is not ``auto`` or one of :data:`DTYPES`.
    PipelineLoadError
        For ``float16`` on the CPU, where diffusers' kernels are missing or unusably slow.
    """
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected 'auto' or one of {DTYPES}")
    if dtype == "float16" and device == "cpu":
        raise PipelineLoadError("dtype 'float16' is not supported on the CPU; use dtype='float32' "
                                "(or 'bfloat16'), or a CUDA device")
    return dtype


def check_device(device: str, dtype: str) -> None:
    """Check that ``device`` and ``dtype`` are usable here, before anything loads.

    torch is imported only when the answer depends on it (a CUDA device, or ``auto`` with a
    half-precision dtype): ``cpu`` and ``auto`` always exist.

    Raises
    ------
    ValueError
        For an unknown device or dtype string.
    PipelineLoadError
        For a CUDA device torch does not see, an index out of range, float16 on the CPU, or
        bfloat16 on a GPU without it.
    """
    if dtype not in ("auto", *DTYPES):
        raise ValueError(f"unknown dtype {dtype!r}; expected 'auto' or one of {DTYPES}")
    if device == "cpu":
        resolve_dtype(dtype, "cpu")
        return
    if device == "auto" and dtype in ("auto", "float32"):
        return
    resolved = resolve_device(device)
    resolve_dtype(dtype, resolved)
    if dtype == "bfloat16" and resolved.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            raise PipelineLoadError(f"dtype 'bfloat16' is not supported on {torch.cuda.get_device_name(resolved)} "
                                    f"({resolved}); use dtype='float16' or 'float32'")


def load_inpainter(ref: str | os.PathLike, *, device: str = "auto", dtype: str = "auto",
                   pipeline_class: str | None = None, scheduler: str = schedulers.MODEL) -> "Inpainter":
    """Load an inpainting pipeline and wrap it in an :class:`Inpainter`.

    Parameters
    ----------
    ref:
        ``"tiny"`` (embedded default: 4-channel UNet, diffusers' legacy paste-back-in-latents
        path), ``"tiny-9ch"`` (9-channel inpainting UNet), a local diffusers folder, or a hub id.
    device:
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype:
        ``"auto"`` (float16 on CUDA, float32 on the CPU), ``"float32"``, ``"float16"`` or
        ``"bfloat16"``.
    pipeline_class:
        A supported diffusers inpainting class to load the folder with (e.g.
        ``"FluxFillPipeline"``); default: the folder's own class if supported, else what
        ``AutoPipelineForInpainting`` maps it to.
    scheduler:
        ``"model"`` (the folder's) or a diffusers scheduler class name that fits the model.

    Every route loads a local folder with the chosen class's ``from_pretrained``, safetensors
    only, no remote code, no safety checker and no watermark.

    Raises
    ------
    ValueError
        For an unknown device or dtype string, or a scheduler that is unknown or does not fit.
    PipelineLoadError
        If the reference cannot be found or loaded, its class is not supported
        (:class:`~harness.pipelines.families.UnsupportedPipelineError`), or the device/dtype
        pair is unusable.
    """
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    spec = resolve_spec(ref, pipeline_class=pipeline_class, scheduler=scheduler)
    pipe = _from_folder(spec, resolved_dtype).to(resolved_device)
    pipe.set_progress_bar_config(disable=True)
    from .inpainter import Inpainter

    try:
        inpainter = Inpainter(pipe, source=spec.source, device=resolved_device, dtype=resolved_dtype)
    except TypeError as exc:  # the class lacks a call argument every case needs
        raise UnsupportedPipelineError(str(exc)) from None
    inpainter.use_scheduler(spec.scheduler)
    return inpainter


#: Loading options and the value the harness gives them where the class takes them: a safety
#: checker blacks out whole images and a watermark changes every pixel, neither is inpainting.
_LOAD_OPTIONS = {"safety_checker": None, "requires_safety_checker": False, "add_watermarker": False}


def _from_folder(spec: PipelineSpec, dtype: str) -> Any:
    import inspect

    import torch
    from diffusers.utils import is_accelerate_available
    from safetensors import SafetensorError

    cls = spec.pipeline_type()
    accepted = inspect.signature(cls.__init__).parameters
    options = {name: value for name, value in _LOAD_OPTIONS.items() if name in accepted}
    if not is_accelerate_available():
        # what from_pretrained falls back to without accelerate anyway; asked for, it does not
        # warn about it on every load (and in every failed case's captured output)
        options["low_cpu_mem_usage"] = False
    folder = spec.source.folder
    try:
        with _quiet_loading():
            return cls.from_pretrained(str(folder), torch_dtype=getattr(torch, dtype), use_safetensors=True,
                                       local_files_only=True, **options)
    # what diffusers and transformers raise for missing, corrupt or mismatched files and configs
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError, ImportError,
            SafetensorError) as exc:
        where = str(folder) if spec.source.ref == str(folder) else f"{spec.source.ref!r} from {folder}"
        message = f"could not load {where} as {spec.pipeline_class}: {exc}"
        raise PipelineLoadError(message) from exc


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide diffusers'/transformers' loading progress bars and the ``torch_dtype`` rename notice.

    ``torch_dtype`` is kept because it works on every diffusers the project supports (>= 0.27);
    0.42 renamed it ``dtype`` and warns. The legacy class warns that it is deprecated, which is
    known. The progress-bar switches are global, so they are restored afterwards.
    """
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    modules = (diffusers_logging, transformers_logging)
    restore = [(module, module.is_progress_bar_enabled()) for module in modules]
    for module, _ in restore:
        module.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch_dtype.*deprecated", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*InpaintPipelineLegacy.*", category=FutureWarning)
            yield
    finally:
        for module, enabled in restore:
            if enabled:
                module.enable_progress_bar()
