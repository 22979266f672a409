"""The statistics of the noise-aware gate: relative changes and a seeded bootstrap interval.

Pure numpy, no I/O. The gate pools a group's cases (images x radii x seeds of one experiment and
strength) into one array of relative changes and asks whether their mean moved beyond the
tolerance by more than the noise explains.

Examples
--------
>>> changes = relative_changes([110.0, 180.0], [100.0, 200.0], floor=0.0)
>>> changes.tolist()
[0.1, -0.1]
>>> bootstrap_mean([0.0, 0.0, 0.0]).low
0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "RESAMPLES", "CONFIDENCE", "SEED", "relative_changes", "bootstrap_mean"]

#: Bootstrap resamples, confidence level and the fixed seed of the generator: the same values
#: always give the same interval.
RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0
_CHUNK = 250  # resampled means computed at a time: bounds the gathered copies for large groups


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap percentile interval over ``n`` values."""

    estimate: float
    low: float
    high: float
    n: int


def relative_changes(current, reference, *, floor: float) -> np.ndarray:
    """``(current - reference) / max(|reference|, floor)`` element-wise, in float64.

    ``floor`` keeps the change finite (and meaningful) where the reference is near zero, such as
    the 0 leakage of the paste-back control: a tolerance ``max(abs, rel x |baseline|)`` becomes
    ``rel`` of ``max(|baseline|, abs / rel)``, so ``floor = abs / rel`` makes a change beyond
    ``rel`` here exactly a change beyond the tolerance case by case.

    Raises
    ------
    ValueError
        When the arrays differ in shape, or a reference is 0 with ``floor`` 0 (no scale).
    """
    current = np.asarray(current, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if current.shape != reference.shape:
        raise ValueError(f"current {current.shape} and reference {reference.shape} differ in shape")
    scale = np.maximum(np.abs(reference), float(floor))
    if np.any(scale == 0):
        raise ValueError("a reference of 0 has no relative change; give a floor > 0")
    return (current - reference) / scale


def bootstrap_mean(values, *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                   seed: int = SEED) -> Interval:
    """The mean of ``values`` and its percentile bootstrap interval.

    The resamples are the rows of ``default_rng(seed).integers(0, n, size=(resamples, n))``: each
    draws ``n = len(values)`` values with replacement, and the same values always give the same
    interval. The interval is the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of the resampled means. One value gives a zero-width
    interval.

    Raises
    ------
    ValueError
        For no values, a non-finite value, or a confidence outside (0, 1).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no values to bootstrap")
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    draws = np.random.default_rng(seed).integers(0, values.size, size=(resamples, values.size))
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _CHUNK):
        means[start:start + _CHUNK] = values[draws[start:start + _CHUNK]].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(values.mean()), float(low), float(high), int(values.size))
