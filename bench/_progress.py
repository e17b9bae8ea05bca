"""A dependency-free progress bar on stderr, redrawn by one task while a run goes."""

from __future__ import annotations

import sys
import time

import anyio


class Progress:
    """Counts finished and failed turns; ``run`` redraws the bar until cancelled."""

    def __init__(self, label: str, total: int, *, enabled: bool) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.errors = 0
        self.enabled = enabled
        self._start = time.perf_counter()

    def tick(self) -> None:
        self.done += 1

    def error(self) -> None:
        self.errors += 1

    def line(self, width: int = 30) -> str:
        finished = self.done + self.errors
        filled = width * finished // max(self.total, 1)
        rate = self.done / max(time.perf_counter() - self._start, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        return f"{self.label:<24} [{bar}] {finished}/{self.total} turns {rate:8.1f}/s errors {self.errors}"

    async def run(self) -> None:
        """Redraw every 0.2 s (only on a terminal); cancel to stop."""
        if not self.enabled:
            await anyio.sleep_forever()
        self._start = time.perf_counter()
        try:
            while True:
                sys.stderr.write("\r" + self.line())
                sys.stderr.flush()
                await anyio.sleep(0.2)
        finally:
            sys.stderr.write("\r" + self.line() + "\n")
            sys.stderr.flush()
