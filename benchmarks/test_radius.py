"""Leakage against the disc's radius at strengths 0.1, 0.5 and 0.9 (the study's Fig. 4.10).

Select it with ``pytest benchmarks -k radius``; one case per image x radius x strength x seed.
"""

import pytest

pytestmark = pytest.mark.leakage("radius")


def test_radius(leak_case, leak_measure):
    leak_measure(leak_case)
