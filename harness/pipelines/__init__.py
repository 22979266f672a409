"""Everything that touches torch and diffusers: loading a pipeline and calling it on harness arrays.

Importing this package imports neither torch nor diffusers; they load on first use, so
``harness.cases`` can use :func:`steps_run` cheaply.

>>> from harness.pipelines import load_inpainter          # doctest: +SKIP
>>> inpainter = load_inpainter("tiny", device="cpu")        # doctest: +SKIP
>>> out = inpainter.inpaint(image, mask, strength=0.5, seed=0, steps=10)  # doctest: +SKIP
"""

from .errors import NonFiniteOutputError, PipelineLoadError
from .inpainter import Inpainter
from .loader import load_inpainter
from .steps import steps_run
from .timing import Timing

__all__ = ["load_inpainter", "Inpainter", "PipelineLoadError", "NonFiniteOutputError", "Timing", "steps_run"]
