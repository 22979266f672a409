"""The per-process output cache: one call per group, and the out-of-memory back-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.cases import Case, ImageSource
from harness.execution.batches import Batches
from harness.measure import Settings
from harness.pipelines.timing import Timing

SETTINGS = Settings(max_side=32)


class StandIn:
    """An inpainter that returns the image plus its seed and runs out of memory above ``fits``."""

    device, size_multiple = "cpu", 8

    def __init__(self, fits: int):
        self.fits = fits
        self.calls: list[int] = []
        self.last_timing = None

    def inpaint_batch(self, images, masks, *, strength, seeds, steps, **_):
        self.calls.append(len(images))
        if len(images) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.last_timing = Timing(seconds=float(len(images)), steps=steps)
        return [np.full_like(image, seed) for image, seed in zip(images, seeds)]


def _calls(n: int) -> list[Case]:
    return [Case("", ImageSource("coffee"), 0.5, 0.5, seed, 4) for seed in range(n)]


def test_a_group_is_one_call_and_each_case_takes_its_own_output_and_share():
    calls = _calls(4)
    batches = Batches({c: calls for c in calls}, {c: 1 for c in calls}, note=pytest.fail)
    inpainter = StandIn(fits=8)
    outputs = [batches.plain_call(inpainter, c, SETTINGS) for c in calls]
    assert inpainter.calls == [4]
    assert [int(out[0, 0, 0]) for out, _ in outputs] == [0, 1, 2, 3]
    assert all(timing.seconds == 1.0 for _, timing in outputs)  # 4 s over 4 cases
    assert batches.last.batch_size == 4 and batches.last.batch_seconds == 4.0
    assert batches.results == {}  # every output taken: nothing kept


def test_out_of_memory_halves_the_batch_and_says_so():
    calls, notes = _calls(8), []
    batches = Batches({c: calls for c in calls}, {c: 1 for c in calls}, note=notes.append)
    inpainter = StandIn(fits=2)
    outputs = [batches.plain_call(inpainter, c, SETTINGS)[0] for c in calls]
    assert inpainter.calls == [8, 4, 2, 2, 4, 2, 2]
    assert [int(out[0, 0, 0]) for out in outputs] == list(range(8))
    assert notes[0].startswith("out of device memory at batch 8") and notes[0].endswith("retrying at batch 4")
    assert len(notes) == 3


def test_out_of_memory_at_batch_one_fails_that_case_with_the_message():
    calls = _calls(2)
    batches = Batches({c: calls for c in calls}, {c: 1 for c in calls}, note=lambda line: None)
    with pytest.raises(RuntimeError, match="out of device memory at batch 1 on cpu: CUDA out of memory"):
        batches.plain_call(StandIn(fits=0), calls[0], SETTINGS)


def test_peak_memory_is_read_on_cuda_when_asked_and_kept_through_the_exit(monkeypatch):
    from harness.execution.batches import PeakMemory

    allocated, resets = [100], []
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: resets.append(device))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: allocated[0])
    with PeakMemory("cuda:0") as peak:
        peak.read()  # the case's own calls are done here; a look-ahead call allocates afterwards
        allocated[0] = 900
    assert resets == ["cuda:0"] and peak.bytes == 100
    with PeakMemory("cuda:0") as unread:
        pass
    assert unread.bytes == 900
    with PeakMemory("cpu") as on_cpu:
        on_cpu.read()
    assert on_cpu.bytes is None
