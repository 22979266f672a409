"""How one process computes its cases: copied from the store, copied from an identical case of
this run, or measured with its group's batched call.

The plugin calls :meth:`Execution.plan` once the selection is final (after ``-k`` and the other
deselections) and :meth:`Execution.measure` for each case; everything else about execution is
decided here and in its sibling modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from harness.cases import Case
from harness.execution import shards
from harness.execution.groups import Entry, Group, identity, plain_call, plan_groups

__all__ = ["Execution", "resolve_batch"]


def resolve_batch(batch: str | int, device: str) -> int:
    """``--leak-batch``: ``auto`` is 8 where the cases run on CUDA and 1 on the CPU (where
    batching gains little and changes the last bits of every output)."""
    if batch != "auto":
        return int(batch)
    if device == "cpu":
        return 1
    if device.startswith("cuda"):
        return 8
    import torch

    return 8 if torch.cuda.is_available() else 1


class Execution:
    """This process's plan and caches.

    Parameters
    ----------
    batch:
        The resolved batch size.
    max_side:
        The session's longest side (for cost estimates).
    shard:
        ``"K/N"`` or ``None``.
    """

    def __init__(self, batch: int, *, max_side: int, shard: str | None = None):
        self.batch = batch
        self.max_side = max_side
        self.shard = shards.parse(shard) if shard else None
        self.groups: list[Group] = []
        self.notes: list[str] = []  # lines for the terminal (a halved batch)
        self.computed = 0  # measurements this process computed
        self.copied = 0  # rows it copied (from the store or an identical case)
        self._measured: dict[Case, list] = {}  # identity -> [measurement, items still to take it]
        self._items_of: dict[Case, int] = {}
        self._batches = None
        self._group_of: dict[Case, list[Case]] = {}
        self._consumers: dict[Case, int] = {}
        # the cases of the items after the current one, in the order they run (None: not to compute)
        self.upcoming: Sequence[Case | None] = ()
        self._lookahead = None  # a Lookahead once the first case asks, False where it is not worthwhile
        self._idle_tasks: list[Callable[[], object]] = []  # for the main thread while it waits for one

    # -- the plan ------------------------------------------------------------------------------

    def select(self, entries: list[Entry]) -> set[str] | None:
        """Plan the groups of ``entries``; with a shard, return the node ids it keeps (the caller
        deselects the rest), else ``None``."""
        groups = plan_groups(entries, self.batch, max_side=self.max_side)
        kept = None
        if self.shard is not None:
            grouped = {n for g in groups for n in g.nodeids}
            kept = shards.shard_nodeids(groups, [e.nodeid for e in entries if e.nodeid not in grouped], self.shard)
            groups = [g for g in groups if g.nodeids[0] in kept]
        self._remember(groups, [e for e in entries if kept is None or e.nodeid in kept])
        return kept

    def plan_only(self, entries: list[Entry]) -> list[Group]:
        """The groups of ``entries`` (already one shard's), without keeping anything: the xdist
        controller's view, which schedules them."""
        return plan_groups(entries, self.batch, max_side=self.max_side)

    def _remember(self, groups: list[Group], entries: list[Entry]) -> None:
        self.groups = groups
        for group in groups:
            for call in group.calls:
                self._group_of[call] = group.calls
        measurements: dict[Case, set[Case]] = {}
        for entry in entries:
            if entry.case is None:
                continue
            self._items_of[identity(entry.case)] = self._items_of.get(identity(entry.case), 0) + 1
            call = plain_call(entry.case)
            if call is not None:
                measurements.setdefault(call, set()).add(identity(entry.case))
        self._consumers = {call: len(ids) for call, ids in measurements.items()}

    def batches(self):
        """The per-process output cache (:class:`harness.execution.batches.Batches`)."""
        if self._batches is None:
            from harness.execution.batches import Batches

            self._batches = Batches(self._group_of, self._consumers, self.notes.append)
        return self._batches

    # -- one case ------------------------------------------------------------------------------

    def measure(self, case: Case, compute: Callable, *, device: str = "cpu", key: str | None = None, reuse=None,
                run_id: str = "", context: tuple | None = None):
        """``case``'s :class:`~harness.measure.Measurement`: an identical case's of this process,
        else a stored row with ``key`` from ``reuse`` (a :class:`~harness.execution.reuse.ReuseSource`),
        else ``compute(plain_call)`` (``measure_case`` with this process's batched calls), with
        the batch, the case's share of its time, the device's peak memory and ``key`` added.
        ``context``, ``(inpainter, settings)``, lets a case that makes no batched call of its own
        (the floor, a crop) start the look-ahead too."""
        from harness.measure import Measurement

        if context is not None:
            self.batches().set_context(*context)

        measured = identity(case)
        if measured in self._measured:
            return self._copy(measured, case)
        source = reuse.find(key) if reuse is not None and key is not None else None
        if source is not None:
            from harness.execution.reuse import reused_row

            result = Measurement(reused_row(source, case, run_id), None)
            self.copied += 1
        else:
            result = self._compute(case, compute, device, ahead=reuse is None)
            result.row["measurement_key"] = key
        self._keep(measured, result)
        return result

    def _compute(self, case: Case, compute: Callable, device: str, *, ahead: bool = False):
        from harness.execution.batches import OutOfMemoryAtBatchOne, PeakMemory
        from harness.measure import Measurement

        batches = self.batches()
        batches.last = None
        self.computed += 1
        peak = PeakMemory(device)

        def ready() -> None:  # the case is done with the pipeline: its own peak is read before the next call
            peak.read()
            self._look_ahead(case, device)

        try:
            with peak:
                result = compute(batches.plain_call, ready if ahead else None)
        except OutOfMemoryAtBatchOne as exc:
            return Measurement({**case.as_dict(), "flags": ["out_of_memory"]}, None, problems=[str(exc)])
        call = batches.last
        if call is not None and call.error is None:
            result.row.update(batch_size=call.batch_size, batch_seconds=call.batch_seconds,
                              peak_memory_bytes=call.peak_memory_bytes)
        elif "seconds" in result.row:  # a call of its own (the floor, crop, dilate)
            result.row.update(batch_size=1, batch_seconds=result.row["seconds"], peak_memory_bytes=peak.bytes)
        return result

    def settle(self) -> None:
        """Wait for the look-ahead call, if one runs: before anything but the item that started it
        may use the pipeline (the plugin calls this as the item tears down, and as the session ends)."""
        if self._lookahead:
            self._lookahead.settle()

    def while_waiting(self, task: Callable[[], object]) -> None:
        """Run ``task`` once, the next time this process would wait for a look-ahead call (see
        :meth:`harness.execution.lookahead.Lookahead.settle`); never if it does not look ahead."""
        self._idle_tasks.append(task)

    def _look_ahead(self, case: Case, device: str) -> None:
        """Start the next batched call this process will compute in the background (see
        :mod:`harness.execution.lookahead`), with the pipeline and settings of the latest case.
        Reuse sessions do not look ahead: the next case may be copied from the store."""
        from harness.execution import lookahead

        batches = self.batches()
        call = self._next_call(case) if batches.has_context else None
        if call is None:
            return
        if self._lookahead is None:  # decided once: the device and the thread count do not change
            self._lookahead = lookahead.Lookahead(self._idle_tasks) if lookahead.worthwhile(device) else False
        if self._lookahead:
            self._lookahead.start(lambda: batches.ahead(call))

    def _next_call(self, case: Case):
        """The batched call of the first of the upcoming items that will compute one: past
        other tests, skipped items, copies of this or an earlier case and outputs already made;
        ``None`` if a case that computes without a batched call (the floor, a crop) comes first."""
        batches, copies = self.batches(), {identity(case), *self._measured}
        for upcoming in self.upcoming:
            if upcoming is None or identity(upcoming) in copies:
                continue
            call = plain_call(upcoming)
            if call is None:
                return None
            if call not in batches.results:
                return call
        return None

    def _keep(self, measured: Case, result) -> None:
        """Keep a copy (before the case's verdict is added to it) for identical cases still to run."""
        left = self._items_of.get(measured, 1) - 1
        if left > 0:
            self._measured[measured] = [_snapshot(result), left]

    def _copy(self, measured: Case, case: Case):
        """The measurement of an identical case, as ``case``'s (its own experiment and id)."""
        entry = self._measured[measured]
        result = _snapshot(entry[0])
        result.row.update(experiment=case.experiment, case_id=case.case_id, mitigation=case.mitigation)
        entry[1] -= 1
        if entry[1] <= 0:
            del self._measured[measured]
        self.copied += 1
        return result


def _snapshot(result):
    """A copy of a measurement whose row and problem list can change without touching ``result``
    (the arrays are read-only and shared)."""
    snapshot = copy.copy(result)
    snapshot.row = copy.deepcopy(result.row)
    snapshot.problems = list(result.problems)
    return snapshot
