"""Which scheduler a pipeline runs: the one its folder ships (``model``), or one asked for by name.

A scheduler asked for must be one diffusers lists as compatible with the model's (its
``compatibles``): e.g. any of the Karras family for SD 1.x/2.x and SDXL, only flow-matching
Euler for SD3 and Flux. The replacement is built from the model's scheduler config, so the noise
schedule (betas, offsets, shift) stays the model's.
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["MODEL", "SchedulerError", "scheduler_type", "check_fits", "replacement"]

#: The ``--leak-scheduler`` value that keeps the folder's scheduler.
MODEL = "model"

#: Settings a scheduler takes when it replaces another: PNDM as Stable Diffusion's configs set
#: it (PLMS only; its Runge-Kutta warm-up would run extra evaluations that SD never runs).
REPLACEMENT_SETTINGS: dict[str, dict] = {"PNDMScheduler": {"skip_prk_steps": True}}


class SchedulerError(ValueError):
    """An unknown scheduler name, or one that does not fit the model."""


def scheduler_type(name: str) -> type:
    """The diffusers scheduler class called ``name`` (imports diffusers).

    Raises
    ------
    SchedulerError
        If diffusers has no scheduler of that name; the message suggests close names.
    """
    import diffusers
    from diffusers import SchedulerMixin

    found = getattr(diffusers, name, None) if name.isidentifier() else None
    if isinstance(found, type) and issubclass(found, SchedulerMixin) and found is not SchedulerMixin:
        return found
    known = [n for n in dir(diffusers) if n.endswith("Scheduler") and n[0].isupper()]
    prefixed = sorted((n for n in known if n.lower().startswith(name.lower())), key=len)
    close = prefixed[:3] or difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; expected a diffusers scheduler class name or {MODEL!r}"
    raise SchedulerError(f"unknown scheduler {name!r}{hint}")


def check_fits(requested: str, model_scheduler: Any, pipeline_class: str) -> None:
    """Raise :class:`SchedulerError` unless ``requested`` can replace ``model_scheduler``.

    ``requested`` fits when it is the model scheduler's class or in that class's diffusers
    ``compatibles`` list.
    """
    model_name = type(model_scheduler).__name__
    if requested in (MODEL, model_name):
        return
    scheduler_type(requested)
    fitting = sorted({model_name} | {c.__name__ for c in model_scheduler.compatibles})
    if requested not in fitting:
        raise SchedulerError(
            f"scheduler {requested} does not fit {pipeline_class}, which ships {model_name}; diffusers lists "
            f"as compatible: {', '.join(fitting)}"
        )


def replacement(requested: str, model_scheduler: Any, pipeline_class: str) -> Any:
    """The scheduler to run: ``model_scheduler`` itself for ``"model"`` or its own class, else a
    ``requested`` built from its config (see :data:`REPLACEMENT_SETTINGS`)."""
    check_fits(requested, model_scheduler, pipeline_class)
    if requested in (MODEL, type(model_scheduler).__name__):
        return model_scheduler
    settings = REPLACEMENT_SETTINGS.get(requested, {})
    return scheduler_type(requested).from_config(model_scheduler.config, **settings)
