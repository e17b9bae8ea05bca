"""Collector settings while Runtimes run (``Runtime(tune_gc=...)``).

With a thousand turns in flight, every object a turn holds outlives a few
young-generation collections and is promoted; full collections then come
often and scan every live coroutine of every warm thread (a third of the
CPU at C=1,000 with CPython's pre-3.13 default threshold of 700).

A library does not change its host process's collector unless asked, so
the default leaves it alone; a service opts in:

- ``tune_gc=False`` (the default): never touch the collector.
- ``tune_gc="aligned"``: if the collector still has the stock pre-3.13
  thresholds ``(700, 10, 10)``, use CPython 3.13's young-generation
  threshold of 2,000 instead: +25% turns/s at C=1,000. Any other setting
  (Python 3.13+, or one the application chose) is left alone.
- ``tune_gc=True``: freeze what is alive when the first such Runtime starts
  (after one full collection, so nothing dead is frozen) and raise the
  thresholds to ``(50_000, 50, 100)``: +50% at C=1,000.

The settings are process-wide, so they are shared by every Runtime of the
process (counted, thread-safe): the strongest one asked for applies while
any Runtime runs, and the application's own settings come back when the
last one exits.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Generator
from contextlib import contextmanager
from typing import Final, Literal, TypeAlias

STOCK_THRESHOLDS: Final = (700, 10, 10)
"""CPython's thresholds before 3.13."""
ALIGNED_THRESHOLDS: Final = (2_000, 10, 10)
"""CPython 3.13's young-generation threshold: ``tune_gc="aligned"``."""
TUNED_THRESHOLDS: Final = (50_000, 50, 100)
"""``tune_gc=True``."""

_lock = threading.Lock()
_modes: Counter[str] = Counter()  # running Runtimes by mode: "tuned", "aligned"
_saved: tuple[int, ...] | None = None
_frozen = False


TuneGC: TypeAlias = bool | Literal["aligned"]
"""``Runtime(tune_gc=...)``: False (default), "aligned" or True."""


def check_tune_gc(value: object) -> TuneGC:
    """``value`` if it is False, "aligned" or True; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if value == "aligned":
        return "aligned"
    raise ValueError(
        f"tune_gc must be False (leave the collector alone), 'aligned' or True, got {value!r}"
    )


def _apply() -> None:
    global _frozen
    assert _saved is not None
    if _modes["tuned"]:
        if not _frozen:
            gc.collect()
            gc.freeze()
            _frozen = True
        gc.set_threshold(*TUNED_THRESHOLDS)
        return
    if _frozen:
        gc.unfreeze()
        _frozen = False
    if _modes["aligned"] and _saved == STOCK_THRESHOLDS:
        gc.set_threshold(*ALIGNED_THRESHOLDS)
    else:
        gc.set_threshold(*_saved)


@contextmanager
def tuned_gc(mode: TuneGC) -> Generator[None]:
    """Hold the collector settings of ``mode`` for the duration of the block."""
    global _saved
    if mode is False:
        yield
        return
    key = "tuned" if mode is True else "aligned"
    with _lock:
        if not _modes:
            _saved = gc.get_threshold()
        _modes[key] += 1
        _apply()
    try:
        yield
    finally:
        with _lock:
            _modes[key] -= 1
            if not _modes[key]:
                del _modes[key]
            _apply()  # with nothing left running: the application's settings
            if not _modes:
                _saved = None
