"""Leakage by mask family and area: the study's disc beside boxes, LaMa-style brush strokes (thin,
medium, thick) and the user's own masks (``--leak-masks FOLDER``).

Select it with ``pytest benchmarks -k masks``; one case per image x family x area x strength x seed
(``coffee-strokes-thin-a0.20-s0.50-seed0``), and per image with a mask of its own x strength x seed
(``holiday-user-s0.50-seed0``).
"""

import pytest

pytestmark = pytest.mark.leakage("masks")


def test_masks(leak_case, leak_measure):
    leak_measure(leak_case)
