"""Mitigations compared on leakage and seam: nothing, a hard paste-back, a feathered blend, diffusers'
``padding_mask_crop`` and a mask dilated by one latent cell.

Select it with ``pytest benchmarks -k mitigation``; one case per image x strength x seed x mitigation
(``coffee-blend-s0.50-r0.50-seed0``). ``none``, ``paste`` and ``blend`` share one pipeline call.
A pipeline whose ``__call__`` takes no ``padding_mask_crop`` reports its ``crop`` cases as skipped.
"""

import pytest

pytestmark = pytest.mark.leakage("mitigation")


def test_mitigation(leak_case, leak_measure):
    leak_measure(leak_case)
