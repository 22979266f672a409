"""The per-process output cache: a group's calls run as one batch, each case takes its output.

The first case of a group to run calls :meth:`Batches.plain_call`, which runs every call of the
group not yet computed in ONE ``Inpainter.inpaint_batch`` (one prompt and generator per case,
calls of one actual image size together) and keeps the outputs until each measurement that needs
one has taken it. On CUDA an out-of-memory error halves the batch and retries (a line says so);
a single call that still does not fit is an error of that case alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from harness.cases import Case

__all__ = ["CallResult", "Batches", "PeakMemory", "OutOfMemoryAtBatchOne", "is_out_of_memory"]


@dataclass(frozen=True)
class CallResult:
    """One call's output (or the error that prevented it) and its share of the batch.

    ``seconds`` is the batch's wall time divided by ``batch_size``; ``peak_memory_bytes`` the
    device's peak during the batch (``None`` on the CPU)."""

    output: Any = None
    error: BaseException | None = None
    seconds: float | None = None
    steps: int | None = None
    batch_size: int = 1
    batch_seconds: float | None = None
    peak_memory_bytes: int | None = None


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's CUDA out-of-memory error (a ``RuntimeError`` subclass that
    exists, and can be raised, in CPU builds too)."""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


class PeakMemory:
    """Context manager: the device's peak allocated bytes inside it (``torch.cuda`` resets the
    peak on entry and reads ``max_memory_allocated`` on exit); ``None`` on the CPU."""

    def __init__(self, device: str):
        self.device = device
        self.bytes: int | None = None
        self._read = False

    def __enter__(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def read(self) -> None:
        """Take the reading now, before other work starts on the device; the exit then keeps it."""
        if not self._read and self.device.startswith("cuda"):
            import torch

            self.bytes = int(torch.cuda.max_memory_allocated(self.device))
        self._read = True

    def __exit__(self, *exc_info: object) -> None:
        self.read()


class Batches:
    """The outputs of this process's batched calls, each kept until its last consumer took it.

    Parameters
    ----------
    group_of:
        A call (see :func:`harness.execution.groups.plain_call`) -> the calls of its group.
    consumers:
        A call -> how many measurements take its output in this process.
    note:
        Receives the lines that say a batch was halved.
    """

    def __init__(self, group_of: dict[Case, list[Case]], consumers: dict[Case, int], note: Callable[[str], None]):
        self.group_of = group_of
        self.consumers = dict(consumers)
        self.note = note
        self.results: dict[Case, CallResult] = {}
        self.last: CallResult | None = None  # what the latest plain_call served
        self.calls_run = 0  # pipeline calls made (a batch is one)
        self._context: tuple | None = None  # (inpainter, settings) for look-ahead calls

    def set_context(self, inpainter, settings) -> None:
        """The pipeline and settings a look-ahead call (:meth:`ahead`) runs with; each
        :meth:`plain_call` sets them too."""
        self._context = (inpainter, settings)

    @property
    def has_context(self) -> bool:
        return self._context is not None

    def plain_call(self, inpainter, case: Case, settings) -> tuple:
        """``measure_case``'s ``plain_call``: the output of ``case``'s call and a timing with its
        share of the batch's seconds. Re-raises the call's own error (out of memory at batch 1
        included) for this case alone."""
        from harness.pipelines.timing import Timing

        call = _as_call(case)
        self.set_context(inpainter, settings)
        if call not in self.results:
            self._run_group(inpainter, call, settings)
        result = self.results.get(call) or CallResult(error=ValueError(f"{case.case_id}: no input to call with"))
        self._consume(call)
        self.last = result
        if result.error is not None:
            raise result.error
        timing = Timing(seconds=result.seconds, steps=result.steps) if result.seconds is not None else None
        return result.output, timing

    def ahead(self, call: Case) -> None:
        """Compute ``call``'s group now (with the pipeline and settings last given, see
        :meth:`set_context`), so that its cases find their outputs here; nothing if it is here."""
        if self._context is not None and _as_call(call) not in self.results:
            inpainter, settings = self._context
            self._run_group(inpainter, _as_call(call), settings)

    def _run_group(self, inpainter, call: Case, settings) -> None:
        pending = [c for c in self.group_of.get(call, [call]) if c not in self.results]
        self._run(inpainter, pending if call in pending else [call], settings)

    def _consume(self, call: Case) -> None:
        left = self.consumers.get(call, 1) - 1
        self.consumers[call] = left
        if left <= 0:  # nobody else in this process needs it: free the memory
            self.results.pop(call, None)

    def _run(self, inpainter, calls: list[Case], settings) -> None:
        """Run ``calls``, by actual prepared size (the plan groups by original size only)."""
        from harness.measure import call_inputs

        by_size: dict[tuple, list[tuple[Case, Any, Any]]] = {}
        for call in calls:
            try:
                image, mask = call_inputs(inpainter, call, settings)
            except ValueError:
                continue  # a bad mask: measure_case reports it before it asks for the output
            by_size.setdefault(image.shape, []).append((call, image, mask))
        for items in by_size.values():
            self._run_batch(inpainter, items, settings)

    def _run_batch(self, inpainter, items: list[tuple[Case, Any, Any]], settings) -> None:
        """One ``inpaint_batch`` call; out of memory halves it, another error retries each call
        alone (so one bad output does not fail its neighbours)."""
        first = items[0][0]
        try:
            with PeakMemory(inpainter.device) as peak:
                self.calls_run += 1
                outputs = inpainter.inpaint_batch(
                    [image for _, image, _ in items], [mask for _, _, mask in items], strength=first.strength,
                    seeds=[call.seed for call, _, _ in items], steps=first.steps, guidance_scale=settings.guidance_scale,
                    prompt=settings.prompt, paste_back=settings.paste_back)
        except Exception as exc:  # noqa: BLE001 - kept per call and re-raised for each case that asks
            if len(items) > 1:
                half = len(items) // 2
                if is_out_of_memory(exc):
                    self._free(inpainter)
                    self.note(f"out of device memory at batch {len(items)} (strength {first.strength:g}, "
                              f"{items[0][1].shape[1]}x{items[0][1].shape[0]}): retrying at batch {half}")
                    self._run_batch(inpainter, items[:half], settings)
                    self._run_batch(inpainter, items[half:], settings)
                else:
                    for item in items:
                        self._run_batch(inpainter, [item], settings)
                return
            if is_out_of_memory(exc):
                self._free(inpainter)
                exc = OutOfMemoryAtBatchOne(f"out of device memory at batch 1 on {inpainter.device}: {exc}")
            self.results[first] = CallResult(error=exc)
            return
        timing = inpainter.last_timing  # None from a stand-in that keeps no time
        seconds, steps = (timing.seconds, timing.steps) if timing is not None else (None, None)
        for (call, _, _), output in zip(items, outputs):
            output.setflags(write=False)
            self.results[call] = CallResult(output=output, seconds=None if seconds is None else seconds / len(items),
                                            steps=steps, batch_size=len(items), batch_seconds=seconds,
                                            peak_memory_bytes=peak.bytes)

    @staticmethod
    def _free(inpainter) -> None:
        if inpainter.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


class OutOfMemoryAtBatchOne(RuntimeError):
    """A single case does not fit on the device: the case fails with this message."""


def _as_call(case: Case) -> Case:
    """The key a call is cached under (``measure_case`` passes the case with its mitigation
    removed but its experiment kept)."""
    import dataclasses

    return dataclasses.replace(case, experiment="")
