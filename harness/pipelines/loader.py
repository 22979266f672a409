"""``load_inpainter``: resolve a reference, a device and a dtype, and load the pipeline."""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import PipelineLoadError
from .source import resolve_source

if TYPE_CHECKING:
    from .inpainter import Inpainter

__all__ = ["load_inpainter", "resolve_device", "resolve_dtype", "DTYPES"]

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


def load_inpainter(ref: str | os.PathLike, *, device: str = "auto", dtype: str = "auto") -> "Inpainter":
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

    Every route goes through ``AutoPipelineForInpainting.from_pretrained`` on a local folder,
    with safetensors only, no remote code and no safety checker.

    Raises
    ------
    ValueError
        For an unknown device or dtype string.
    PipelineLoadError
        If the reference cannot be found or loaded, or the device/dtype pair is unusable.
    """
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    source = resolve_source(ref)
    pipe = _from_folder(source.folder, source.ref, resolved_dtype).to(resolved_device)
    pipe.set_progress_bar_config(disable=True)
    from .inpainter import Inpainter

    return Inpainter(pipe, source=source, device=resolved_device, dtype=resolved_dtype)


def _from_folder(folder: Path, ref: str, dtype: str) -> Any:
    import torch
    from diffusers import AutoPipelineForInpainting

    try:
        with _quiet_loading():
            return AutoPipelineForInpainting.from_pretrained(
                str(folder), torch_dtype=getattr(torch, dtype), use_safetensors=True,
                local_files_only=True, safety_checker=None, requires_safety_checker=False,
            )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        message = f"could not load {ref!r} from {folder} as an inpainting pipeline: {exc}"
        raise PipelineLoadError(message) from exc


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide diffusers'/transformers' loading progress bars and the ``torch_dtype`` rename notice.

    ``torch_dtype`` is kept because it works on every diffusers the project supports (>= 0.27);
    0.42 renamed it ``dtype`` and warns. The progress-bar switches are global, so they are
    restored afterwards.
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
            yield
    finally:
        for module, enabled in restore:
            if enabled:
                module.enable_progress_bar()
