"""Keep objects that live as long as the process out of the garbage collector's scans.

A leakage session holds a large heap that lives until it ends: torch, diffusers and transformers
(about 460,000 objects once the pipeline is loaded), the pipeline and the collected items. Python's
full collections walk all of it every time, pytest runs two of them when the session ends (0.3 s
each on this heap), and a report's drawing allocates enough to trigger more. Objects moved to the
permanent generation with :func:`gc.freeze` are skipped by those scans; they are still freed by
reference counting, and :func:`thaw` hands them back to the collector.

Freezing does not nest (one ``gc.unfreeze`` thaws everything), so nothing here freezes a heap that
something else froze already, and only what was frozen here is thawed here.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["freeze", "thaw", "frozen"]

_frozen_here = False


def freeze() -> bool:
    """Freeze every object alive now, unless the heap is frozen already; return whether it froze."""
    global _frozen_here
    if gc.get_freeze_count():
        return False
    gc.freeze()
    _frozen_here = True
    return True


def thaw() -> None:
    """Undo :func:`freeze` (nothing if it did not freeze)."""
    global _frozen_here
    if _frozen_here:
        _frozen_here = False
        gc.unfreeze()


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Freeze the objects alive now for the duration of the block (if nothing froze them already)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
