"""The gate's statistics against hand computations on tiny examples."""

from __future__ import annotations

import numpy as np
import pytest

from harness.gate.stats import Interval, bootstrap_mean, relative_changes


def test_relative_changes_by_hand():
    assert relative_changes([110.0, 180.0], [100.0, 200.0], floor=0.0).tolist() == pytest.approx([0.1, -0.1])
    # below the floor the change is measured against the floor: (0.5 - 0) / 10 and (30 - 5) / 10
    assert relative_changes([0.5, 30.0], [0.0, 5.0], floor=10.0).tolist() == pytest.approx([0.05, 2.5])
    # a negative reference scales by its magnitude
    assert relative_changes([-90.0], [-100.0], floor=0.0).tolist() == pytest.approx([0.1])


@pytest.mark.parametrize("current, reference, floor, message", [
    ([1.0, 2.0], [1.0], 0.0, "differ in shape"),
    ([1.0], [0.0], 0.0, "a reference of 0 has no relative change"),
])
def test_relative_changes_errors(current, reference, floor, message):
    with pytest.raises(ValueError, match=message):
        relative_changes(current, reference, floor=floor)


def test_bootstrap_of_two_values_matches_the_exact_distribution():
    # Resampling [0, 0.3] twice with replacement gives the mean 0 (1/4), 0.15 (1/2) or 0.3 (1/4).
    # So the 2.5 % and 97.5 % quantiles are 0 and 0.3, and the 30 % and 70 % quantiles both 0.15
    # (the CDF is 1/4 at 0 and 3/4 at 0.15; 2000 resamples put it within ±0.03 of that).
    wide = bootstrap_mean([0.0, 0.3])
    assert (wide.estimate, wide.low, wide.high, wide.n) == (pytest.approx(0.15), 0.0, pytest.approx(0.3), 2)
    narrow = bootstrap_mean([0.0, 0.3], confidence=0.4)
    assert (narrow.low, narrow.high) == (pytest.approx(0.15), pytest.approx(0.15))


def test_bootstrap_resamples_are_those_of_a_seeded_generator():
    # the same draws by hand: one (resamples x n) matrix of indices from default_rng(seed)
    values = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    draws = np.random.default_rng(7).integers(0, values.size, size=(600, values.size))
    means = values[draws].mean(axis=1)
    expected = np.quantile(means, [0.025, 0.975])
    interval = bootstrap_mean(values, resamples=600, seed=7)  # drawn in chunks: the same stream
    assert (interval.low, interval.high) == pytest.approx(tuple(expected), rel=1e-12)


def test_bootstrap_is_reproducible_and_follows_its_seed():
    values = np.random.default_rng(1).normal(size=40)
    first, second = bootstrap_mean(values), bootstrap_mean(values)
    assert first == second
    assert bootstrap_mean(values, seed=1) != first
    assert first.low < first.estimate < first.high


def test_bootstrap_of_one_or_equal_values_has_zero_width():
    assert bootstrap_mean([0.25]) == Interval(0.25, 0.25, 0.25, 1)
    same = bootstrap_mean([0.0, 0.0, 0.0])
    assert (same.low, same.high) == (0.0, 0.0)


@pytest.mark.parametrize("values, kwargs, message", [
    ([], {}, "no values"),
    ([1.0, float("nan")], {}, "must be finite"),
    ([1.0], {"confidence": 1.0}, "confidence must lie in"),
])
def test_bootstrap_errors(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_mean(values, **kwargs)
