"""The pipeline of a session, resolved before any weights load, and the failure of loading it.

At the start of every session the pipeline options are checked without weights (folder or
cached hub id, ``model_index.json`` naming a supported class, ``--leak-pipeline-class``, the
scheduler, the device and dtype): a problem is a usage error before any case runs. Collection
then asks the resolved pipeline's own step rule which strengths leave zero steps. If loading
still fails in a process (corrupt weights), the first case reports it and the session stops.
No torch here; diffusers is imported only when the resolution needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.cases import Case, skip_reason
from harness.options import LeakageOptions
from harness.pipelines.errors import PipelineLoadError
from harness.pipelines.loader import check_device
from harness.pipelines.schedulers import SchedulerError
from harness.pipelines.source import NotCachedError
from harness.pipelines.spec import PipelineSpec, resolve_spec

__all__ = ["Preflight"]


@dataclass
class Preflight:
    """The session's pipeline, resolved without weights; ``error`` holds why it could not be.

    Attributes
    ----------
    options:
        The session's options (pipeline, class, device, dtype).
    scheduler:
        The scheduler asked for: ``--leak-scheduler``, else the preset's.
    scheduler_origin:
        Who asked for it, for messages.
    spec:
        The resolved :class:`harness.pipelines.PipelineSpec`, once known.
    error:
        The one-line reason resolution failed (the session reports it instead of running cases).
    load_error:
        Why loading the pipeline failed in this process (set by the ``inpainter`` fixture).
    """

    options: LeakageOptions
    scheduler: str
    scheduler_origin: str = "--leak-scheduler"
    spec: PipelineSpec | None = None
    error: str | None = None
    load_error: str | None = None

    def check(self) -> None:
        """Resolve without downloading; raise the problem (``PipelineLoadError``/``ValueError``).

        A hub id not yet in the cache while the hub is reachable is left for :meth:`resolve`,
        which runs where the cases are collected (and may download it).
        """
        check_device(self.options.device, self.options.dtype)
        try:
            self.spec = resolve_spec(self.options.pipeline, pipeline_class=self.options.pipeline_class,
                                     scheduler=self.scheduler, download=False)
        except NotCachedError:
            return
        except SchedulerError as exc:
            raise SchedulerError(f"{exc} ({self.scheduler} is asked for by {self.scheduler_origin}; "
                                 "--leak-scheduler model runs the model's own)") from None
        if self.spec.family.deprecated:
            self.spec.pipeline_type()  # the installed diffusers still has it (imports diffusers)

    def resolve(self) -> PipelineSpec | None:
        """The spec, resolving (and downloading) it now if needed; ``None`` with :attr:`error` set."""
        if self.spec is None and self.error is None:
            try:
                self.spec = resolve_spec(self.options.pipeline, pipeline_class=self.options.pipeline_class,
                                         scheduler=self.scheduler)
            except (PipelineLoadError, ValueError) as exc:
                self.error = str(exc)
        return self.spec

    def skip_reason(self, case: Case) -> str | None:
        """Why ``case`` cannot run under this pipeline's own step rule (``None``: it runs, or the
        pipeline is unresolved and the session will report that instead)."""
        spec = self.resolve()
        if spec is None:
            return None
        try:
            return skip_reason(case, spec)
        except (PipelineLoadError, ValueError) as exc:
            self.error = str(exc)
            return None

    def scheduler_used(self) -> str:
        """The scheduler class that runs (the request while the pipeline is unresolved)."""
        return self.spec.scheduler if self.spec is not None else self.scheduler

    def pipeline_class_used(self) -> str | None:
        """The pipeline class that loads (the one asked for while the pipeline is unresolved)."""
        return self.spec.pipeline_class if self.spec is not None else self.options.pipeline_class
