"""The session's side of execution: which rows may be copied, the resumed run, and each case's
measurement with its key.

One :class:`CaseRunner` per process, made by the session when a case first needs it (it imports
torch to resolve ``--leak-batch auto``).
"""

from __future__ import annotations

from harness.cases import Case
from harness.execution.executor import Execution, resolve_batch
from harness.execution.reuse import (ReuseSource, fingerprint_differences, measurement_key, option_differences,
                                     resumable_run)

__all__ = ["CaseRunner", "prepare_resume"]


def prepare_resume(leak, wanted: str) -> dict:
    """The run ``--leak-resume [RUN]`` continues (``wanted == "latest"``: the latest interrupted or
    died one), after checking its preset and options equal this session's.

    Raises
    ------
    ValueError
        Naming the run and every difference, or why it cannot be resumed.
    """
    run = resumable_run(leak.store, None if wanted == "latest" else wanted)
    leak.runner  # noqa: B018 - the batch size is compared too
    differences = option_differences(run["options"], leak.run_options())
    if run["preset"] != leak.preset.name:
        differences.insert(0, f"preset: {run['preset']!r} recorded, {leak.preset.name!r} now")
    if differences:
        raise ValueError(f"--leak-resume: run {run['run_id']} was recorded under other settings, refusing to "
                         f"mix them: {'; '.join(differences)}")
    return {"run_id": run["run_id"], "fingerprint": run["fingerprint"], "status": run["status"]}


class CaseRunner:
    """Measures this process's cases for the session ``leak``."""

    def __init__(self, leak):
        self.leak = leak
        batch = resolve_batch(leak.options.batch, leak.options.device)
        self.execution = Execution(batch, max_side=leak.max_side, shard=leak.options.shard)
        self._fingerprint: dict | None = None
        self._options: dict | None = None
        self._reuse: ReuseSource | None = None

    @property
    def reuse(self) -> ReuseSource | None:
        """Where rows may be copied from (decided once the resumed run, if any, is known)."""
        resume, leak = self.leak.resume, self.leak
        if self._reuse is None and resume is not None:  # its own rows; with --leak-reuse, any run's
            self._reuse = ReuseSource(leak.store, None if leak.options.reuse else resume["run_id"])
        elif self._reuse is None and leak.options.reuse:
            self._reuse = ReuseSource(leak.store)
        return self._reuse

    def _fingerprint_of(self, inpainter) -> dict:
        """The loaded pipeline's fingerprint, built once per process (every case asks)."""
        if self._fingerprint is None:
            self._fingerprint = inpainter.fingerprint()
            self._options = self.leak.run_options()
        return self._fingerprint

    def resume_refusal(self, inpainter) -> str | None:
        """Why this process may not continue the resumed run (its pipeline differs), or ``None``."""
        resume = self.leak.resume
        if resume is None or not resume.get("fingerprint"):
            return None
        differences = fingerprint_differences(resume["fingerprint"], self._fingerprint_of(inpainter))
        if not differences:
            return None
        return (f"--leak-resume: run {resume['run_id']} was measured with another pipeline, refusing to mix "
                f"them: {'; '.join(differences)}")

    def key(self, inpainter, case: Case) -> str:
        """``case``'s measurement key under the loaded pipeline and this run's options."""
        return measurement_key(self._fingerprint_of(inpainter), self._options, case)

    def measure(self, inpainter, case: Case):
        """``case``'s :class:`~harness.measure.Measurement` (see :meth:`Execution.measure`)."""
        from harness.measure import Settings, measure_case

        leak = self.leak
        settings = Settings(leak.max_side, leak.resize, leak.options.paste_back, leak.preset.prompt,
                            leak.preset.guidance_scale)

        def compute(plain_call, ready):
            return measure_case(inpainter, case, max_side=settings.max_side, resize=settings.resize,
                                paste_back=settings.paste_back, prompt=settings.prompt,
                                guidance_scale=settings.guidance_scale, plain_call=plain_call, ready=ready)

        return self.execution.measure(case, compute, device=inpainter.device, key=self.key(inpainter, case),
                                      reuse=self.reuse, run_id=leak.run_id, context=(inpainter, settings))
