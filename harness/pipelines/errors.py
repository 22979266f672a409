"""Exceptions raised by :mod:`harness.pipelines`."""

from __future__ import annotations

__all__ = ["PipelineLoadError", "NonFiniteOutputError"]


class PipelineLoadError(RuntimeError):
    """A pipeline reference could not be turned into a loaded pipeline.

    The message names the reference (id, path or device) and says what to do about it.
    """


class NonFiniteOutputError(ValueError):
    """The pipeline produced NaN or infinite pixels (typically float16 overflow in the VAE).

    Raised after the call instead of returning an image in which the non-finite values were
    silently clipped or cast; the caller records the case as failed.
    """
