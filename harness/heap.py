"""Keep objects that live as long as the process out of the garbage collector's scans.

A leakage session holds a large heap that lives until it ends: torch, diffusers and transformers
(about 460,000 objects once the pipeline is loaded), the pipeline and the collected items. Python's
full collections walk all of it every time, pytest runs two of them when the session ends (0.3 s
each on this heap), and a report's drawing allocates enough to trigger more. Objects moved to the
permanent generation with :func:`gc.freeze` are skipped by those scans; they are still freed by
reference counting, and :func:`thaw` hands them back to the collector.

Freezing does not nest (one ``gc.unfreeze`` thaws everything), so nothing here freezes a heap that
something else froze already, and only what was frozen here is thawed here.

Importing torch and diffusers (a leakage session's collection), or pandas and matplotlib (the
report), creates some 300,000 objects, and the collector runs full collections over the growing
heap all the while: 7 of them, 2.3-2.7 s of a 10 s import on this 2-core machine, for about 9 MB
of garbage found. :func:`collector_paused` runs such a block with the collector off and freezes
what it leaves, garbage included, which is the pattern the :func:`gc.freeze` documentation gives
for a process that sets up a long-lived heap.

A process that exits right after the session gains most from staying frozen: the interpreter's
last collection at exit walks every object that is not frozen, about 2 s with diffusers loaded
on this 2-core machine (9.0 s against 7.5 s for a script that only imports diffusers).
:func:`ends_the_process` tells that case apart from a ``pytest.main`` called inside a longer-lived
process (pytester's inline runs, a notebook), which must be thawed: a frozen object is never
collected, so the garbage cycles among them would stay for the rest of that process.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator

__all__ = ["freeze", "thaw", "frozen", "collector_paused", "ends_the_process"]

_frozen_here = False


def freeze() -> bool:
    """Freeze every object alive now, unless something else froze the heap already (what this
    module froze may grow); return whether it froze."""
    global _frozen_here
    if gc.get_freeze_count() and not _frozen_here:
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
    """Keep the objects alive now out of the collector's scans during the block: frozen for its
    duration; for good where this module froze the heap already (the freeze grows, and
    :func:`thaw` undoes all of it); not at all where something else froze it."""
    if _frozen_here:
        freeze()
        yield
        return
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, then :func:`freeze` what is alive (the
    libraries it imported) and turn the collector back on; nothing if it was off already."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        freeze()
        gc.enable()


def ends_the_process() -> bool:
    """Whether the ``pytest.main`` call running now was made by pytest's own command line (the
    ``pytest`` script and ``python -m pytest``), which exits the process as soon as it returns.
    False outside a pytest run and for any other caller (pytester's inline runs, a notebook).

    Relies on how ``_pytest.config`` defines its entry points: the command line's function
    (``console_main``; ``_console_main`` from pytest 9.1) calls the run (``main``; ``_main`` from
    9.1, which ``main`` calls), and then only flushes stdout before the process exits.
    """
    import _pytest.config as entry

    def codes(*names: str) -> set:
        return {getattr(entry, name).__code__ for name in names if hasattr(entry, name)}

    runs, command_lines = codes("main", "_main"), codes("console_main", "_console_main")
    frame = sys._getframe(1)
    while frame is not None and frame.f_code not in runs:  # the innermost run: an inline run's own
        frame = frame.f_back
    while frame is not None and frame.f_code in runs:
        frame = frame.f_back
    return frame is not None and frame.f_code in command_lines
