"""Timing of one pipeline call: wall seconds and the denoising steps actually run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Timing", "StepCounter", "Stopwatch"]


@dataclass(frozen=True)
class Timing:
    """Wall time and step count of the most recent pipeline call.

    Attributes
    ----------
    seconds:
        Wall seconds of the call, measured with ``time.perf_counter``; on CUDA the device is
        synchronised before the clock stops, so queued kernels are included.
    steps:
        Denoising-loop iterations actually run (denoiser evaluations per image), counted with
        the pipeline's ``callback_on_step_end`` (the legacy class, which has none: its UNet's
        calls), not computed. It equals the ``evaluations`` of the
        pipeline's :class:`~harness.pipelines.families.StepPlan`: for diffusers'
        ``PNDMScheduler`` with ``skip_prk_steps=True`` (the embedded pipelines, SD 1.x) one more
        than the pipeline's step count, since PLMS repeats its first timestep; for single-order
        schedulers such as DDIM or flow-matching Euler the step count itself. Zero for
        :meth:`Inpainter.vae_roundtrip`.
    """

    seconds: float
    steps: int


class StepCounter:
    """A ``callback_on_step_end`` that counts the steps and leaves the tensors unchanged."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
        self.count += 1
        return callback_kwargs


class Stopwatch:
    """Context manager measuring wall seconds, synchronising CUDA before it stops."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> "Stopwatch":
        self._synchronize()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._synchronize()
        self.seconds = time.perf_counter() - self._start

    def _synchronize(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize(self.device)
