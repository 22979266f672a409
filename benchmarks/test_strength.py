"""Leakage against inpainting strength, disc mask of fixed radius (the study's Figs. 4.2 and 4.3).

Select it with ``pytest benchmarks -k strength``; one case per image x strength x seed.
"""

import pytest

pytestmark = pytest.mark.leakage("strength")


def test_strength(leak_case, leak_measure):
    leak_measure(leak_case)
