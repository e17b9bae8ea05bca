"""The process's shared sync loop: one blocking portal, started on first use.

Sync twins called where no event loop of their own can serve them (plain
sync code, a thread that runs an unrelated event loop) run their coroutine
on this loop, so a Flask view calling ``invoke`` per request reuses one
loop, one Redis client and its pooled connections instead of building new
ones per call.

- Started lazily under a lock, in a daemon thread named ``actorgraph-sync``
  running anyio's asyncio backend (the Redis clients need asyncio).
- Closed at interpreter exit by an ``atexit`` handler (daemon threads still
  run then): calls still going are cancelled, the ``on_exit`` callbacks run
  on the loop (SDK clients living there close their pools), and asyncio
  finalizes the async generators left on it (the Redis clients' keepers
  close their sockets), so nothing is reported unclosed.
- Per process: threads do not survive ``os.fork()``, so a child never
  reuses its parent's portal; it starts its own on first use.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Final, final

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from concurrent.futures import Future

    from anyio.from_thread import BlockingPortal

THREAD_NAME: Final = "actorgraph-sync"
"""Name of the shared loop's thread (seen in thread dumps and profilers)."""

CLOSE_TIMEOUT: Final = 5.0
"""Seconds each exit callback, and the loop's shutdown, may take at interpreter exit."""


@final
class SharedLoop:
    """One running portal thread: its portal, its thread and its exit callbacks."""

    __slots__ = ("_closers", "closed", "pid", "portal", "thread")

    def __init__(self) -> None:
        from concurrent.futures import Future  # (here: the first sync call's)

        ready: Future[BlockingPortal] = Future()
        self.pid = os.getpid()
        self.closed = False
        self._closers: list[Callable[[], Awaitable[object]]] = []
        self.thread = threading.Thread(
            target=self._serve, args=(ready,), name=THREAD_NAME, daemon=True
        )
        self.thread.start()
        self.portal = ready.result()

    def _serve(self, ready: Future[BlockingPortal]) -> None:
        from anyio.from_thread import BlockingPortal

        async def main() -> None:
            try:
                async with BlockingPortal() as portal:
                    ready.set_result(portal)
                    await portal.sleep_until_stopped()
            finally:
                await self._run_closers()

        try:
            anyio.run(main, backend="asyncio")
        except BaseException as exc:
            if not ready.done():  # failed to start: the first caller raises it
                ready.set_exception(exc)
                return
            raise

    async def _run_closers(self) -> None:
        closers, self._closers = self._closers, []
        with anyio.CancelScope(shield=True):
            for close in reversed(closers):
                with anyio.move_on_after(CLOSE_TIMEOUT):
                    await close()

    def on_exit(self, close: Callable[[], Awaitable[object]]) -> None:
        """Await ``close()`` on this loop when it shuts down (call on the loop)."""
        self._closers.append(close)

    def close(self) -> None:
        """Stop the loop: cancel what still runs, run the exit callbacks, join the thread.

        Blocks for at most about ``CLOSE_TIMEOUT`` seconds per callback, plus
        ``CLOSE_TIMEOUT`` for the loop's shutdown.
        """
        if self.thread.ident == threading.get_ident():
            raise RuntimeError(
                "the shared sync loop cannot be closed from its own thread"
            )
        self.closed = True
        budget = CLOSE_TIMEOUT * (len(self._closers) + 1)
        try:
            self.portal.call(self.portal.stop, True)
        except RuntimeError:  # already stopped
            pass
        self.thread.join(budget)


_lock = threading.Lock()
_current: SharedLoop | None = None


def shared_loop() -> SharedLoop:
    """The process's shared loop, started on first use (thread-safe, fork-aware).

    Blocks only while the loop starts (once per process). Raises what
    starting an event loop in a new thread raises.
    """
    global _current
    loop = _current
    if loop is not None and loop.pid == os.getpid():
        return loop
    with _lock:
        loop = _current
        if loop is None or loop.pid != os.getpid():
            loop = _current = SharedLoop()
        return loop


def running_shared_loop() -> SharedLoop | None:
    """The shared loop if this thread is its loop thread, else None (never blocks)."""
    loop = _current
    if loop is not None and loop.thread.ident == threading.get_ident():
        return loop
    return None


def close_shared_loop() -> None:
    """Close the shared loop if this process started one; the next sync call starts another.

    Registered with ``atexit``; also for tests. Blocks while it shuts down.
    """
    global _current
    with _lock:
        loop, _current = _current, None
    if loop is not None and loop.pid == os.getpid():
        loop.close()


def _forget_after_fork() -> None:
    # The child has a copy of the parent's objects but not its threads: the
    # parent's portal thread does not run here, and its lock may be held.
    global _current, _lock
    _current = None
    _lock = threading.Lock()


atexit.register(close_shared_loop)
os.register_at_fork(after_in_child=_forget_after_fork)
