"""Opt-in collector tuning for hosts of many warm threads (``Runtime(tune_gc=True)``).

With thousands of warm threads, most of the heap is long-lived (their actors,
the imported modules) and every full collection scans all of it: at 1,000
concurrent conversations that was a third of the CPU. Tuning freezes what is
alive when the Runtime starts (after one full collection, so nothing dead is
frozen) and raises the first-generation threshold, so young garbage is
collected in larger, rarer sweeps. It is process-wide, hence opt-in; leaving
the Runtime restores the thresholds and unfreezes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

TUNED_THRESHOLDS = (50_000, 50, 100)


@contextmanager
def tuned_gc(enabled: bool) -> Iterator[None]:
    """Tune the cyclic collector for the duration of the block when ``enabled``."""
    if not enabled:
        yield
        return
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(*TUNED_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
