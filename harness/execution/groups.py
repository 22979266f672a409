"""Groups: the selected cases that can share one pipeline call.

A sweep is many pytest items; the device wants few large calls. Three levels sit between them:

* a **measurement** (:func:`identity`): cases equal but for their experiment give equal rows, so
  one is computed and the others copy its row (the radius sweep's r 0.80 cases are the strength
  sweep's; the mitigation experiment's ``none`` case is the radius sweep's plain case);
* a **call** (:func:`plain_call`): the unmitigated pipeline call a case's output comes from
  (``none``, ``paste`` and ``blend`` differ only in what follows it);
* a **group**: up to ``batch`` calls with the same image size, strength and steps (the session's
  prompt, guidance and paste-back are the same for all), run as one ``Inpainter.inpaint_batch``.

Cases that are not plain calls (the VAE floor, ``crop``, ``dilate``) are groups of their own. The
planning here is pure: the same selected node ids in the same order give the same groups on every
process (the xdist controller, which does not collect, derives them from the workers' node ids).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Iterable

from harness.cases import Case, ImageSource

__all__ = ["Entry", "Group", "identity", "plain_call", "plan_groups", "original_size"]


@dataclass(frozen=True)
class Entry:
    """One selected pytest item: its node id and its case (``None``: not a leakage case, or one
    that is skipped at collection and so computes nothing)."""

    nodeid: str
    case: Case | None


@dataclass
class Group:
    """Cases that one process runs together.

    Attributes
    ----------
    name:
        Stable within a selection: the xdist scope of its items.
    calls:
        The distinct plain calls run in one batch (empty for a group that is not a plain call).
    nodeids:
        The items whose outputs come from this group, in collection order.
    cost:
        Estimated work: denoising steps x pixels over its distinct measurements (shards balance it).
    """

    name: str
    calls: list[Case] = field(default_factory=list)
    nodeids: list[str] = field(default_factory=list)
    cost: float = 0.0


def identity(case: Case) -> Case:
    """The measurement ``case`` stands for: the case without its experiment, mitigation ``none``
    read as no mitigation (its output is the pipeline's own, see :mod:`harness.mitigations`)."""
    if case.mitigation == "none":
        return dataclasses.replace(case, experiment="", mitigation=None, mitigation_px=None)
    return dataclasses.replace(case, experiment="")


def plain_call(case: Case) -> Case | None:
    """The unmitigated pipeline call ``case``'s output comes from, or ``None`` when its output
    does not come from one (the VAE floor; ``crop`` and ``dilate`` call the pipeline their own way).

    The same replacement as :func:`harness.measure.measure_case` makes for the mitigations that
    only post-process the plain output."""
    from harness.mitigations import Mitigation

    if case.strength is None:
        return None
    # the width does not decide whether it shares (dilate's is filled in from the pipeline later)
    if case.mitigation is not None and not Mitigation(case.mitigation, case.mitigation_px or 1).shares_plain_call:
        return None
    return dataclasses.replace(case, experiment="", mitigation=None, mitigation_px=None)


@functools.lru_cache(maxsize=256)
def original_size(source: ImageSource) -> tuple[int, int]:
    """The image's size before preparation: equal originals prepare to equal sizes. An image that
    cannot be read is (1, 1) here; its cases report the problem when they run."""
    try:
        return tuple(source.load().shape[:2])
    except (ValueError, OSError):
        return (1, 1)


def _cost(case: Case, max_side: int) -> float:
    """Steps run x pixels, estimated without the pipeline (the VAE floor counts as one step)."""
    height, width = original_size(case.image)
    scale = min(1.0, max_side / max(height, width))
    steps = case.steps * case.strength if case.strength is not None else 1.0
    return max(steps, 1.0) * (height * scale) * (width * scale)


def plan_groups(entries: Iterable[Entry], batch: int, *, max_side: int) -> list[Group]:
    """Group the selected leakage cases: measurements, then plain calls, then batches of at most
    ``batch`` calls with the same original image size, strength and steps.

    Items without a case are in no group. The order is stable: buckets by first item, then
    chunks in collection order.
    """
    units: dict[object, list[str]] = {}  # a call (or a lone measurement) -> its items
    measurements: dict[object, set[Case]] = {}
    buckets: dict[object, list[object]] = {}  # what may share a call -> its units, in order
    for entry in entries:
        if entry.case is None:
            continue
        call = plain_call(entry.case)
        unit = call if call is not None else ("alone", identity(entry.case))
        if unit not in units:
            bucket = (original_size(call.image), call.strength, call.steps) if call is not None else unit
            buckets.setdefault(bucket, []).append(unit)
        units.setdefault(unit, []).append(entry.nodeid)
        measurements.setdefault(unit, set()).add(identity(entry.case))
    groups: list[Group] = []
    for bucket_units in buckets.values():
        size = batch if isinstance(bucket_units[0], Case) else 1
        for start in range(0, len(bucket_units), size):
            chunk = bucket_units[start:start + size]
            group = Group(name=f"leakage-group-{len(groups)}",
                          calls=[unit for unit in chunk if isinstance(unit, Case)],
                          nodeids=[nodeid for unit in chunk for nodeid in units[unit]])
            group.cost = sum(_cost(case, max_side) for unit in chunk for case in measurements[unit])
            groups.append(group)
    return groups
