"""The VAE floor: the change outside the mask from the VAE round trip alone, per image.

What leakage would be if the diffusion did nothing; select it with ``pytest benchmarks -k floor``.
"""

import pytest

pytestmark = pytest.mark.leakage("floor")


def test_floor(leak_case, leak_measure):
    leak_measure(leak_case)
