"""``Spawned``: the tasks a run starts as tasks of their own.

A task awaited at once runs in place (see ``RunState._schedule``); the rest
run concurrently. They live in the actor system's task group, not in a task
group of the run's own, so a run that spawns nothing pays for nothing (a
task group costs a cancel scope and a scheduling step on exit, every run).
The run still owns them: each runs in a cancel scope the run can cancel, and
the run waits for all of them (``join``) before it commits or fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from stores._shared import SignalLike, new_signal

StartSoon = Callable[..., None]
"""``start_soon(fn, *args, name=...)`` of a task group that outlives the run."""


class Spawned:
    """The run's tasks of their own: start, cancel, wait for all."""

    __slots__ = ("_cancelled", "_idle", "_scopes", "_start_soon")

    def __init__(self, start_soon: StartSoon) -> None:
        self._start_soon = start_soon
        self._scopes: set[anyio.CancelScope] = set()
        self._cancelled = False
        self._idle: SignalLike | None = None

    def start_soon(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: object = None
    ) -> None:
        """Run ``fn(*args)`` as a task of its own; cancelled at once if the run's tasks were."""
        scope = anyio.CancelScope()
        if self._cancelled:
            scope.cancel()
        self._scopes.add(scope)
        self._start_soon(self._guarded, scope, fn, args, name=name)

    async def _guarded(
        self, scope: anyio.CancelScope, fn: Callable[..., Awaitable[Any]], args: Any
    ) -> None:
        try:
            with scope:
                await fn(*args)
        finally:
            self._scopes.discard(scope)
            if not self._scopes and self._idle is not None:
                self._idle.set()

    def cancel(self) -> None:
        """Cancel every running task, and any started from now on."""
        self._cancelled = True
        for scope in self._scopes:
            scope.cancel()

    async def join(self) -> None:
        """Return once every task has ended (at once, without a step, if none runs)."""
        while self._scopes:
            self._idle = new_signal()
            await self._idle.wait()
