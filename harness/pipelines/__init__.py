"""Everything that touches torch and diffusers: loading a pipeline and calling it on harness arrays.

Importing this package imports neither torch nor diffusers; they load on first use, so a session
can resolve a pipeline (:func:`resolve_spec`: folder, class, family, scheduler, step rule)
before any weights load.

>>> from harness.pipelines import load_inpainter          # doctest: +SKIP
>>> inpainter = load_inpainter("tiny", device="cpu")        # doctest: +SKIP
>>> out = inpainter.inpaint(image, mask, strength=0.5, seed=0, steps=10)  # doctest: +SKIP
"""

from .errors import NonFiniteOutputError, PipelineLoadError
from .families import StepPlan, UnsupportedPipelineError
from .inpainter import Inpainter
from .loader import load_inpainter
from .schedulers import SchedulerError
from .spec import PipelineSpec, resolve_spec
from .timing import Timing

__all__ = [
    "load_inpainter", "resolve_spec", "Inpainter", "PipelineSpec", "StepPlan", "PipelineLoadError",
    "UnsupportedPipelineError", "SchedulerError", "NonFiniteOutputError", "Timing",
]
