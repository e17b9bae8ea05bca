"""Blocking twins of async methods: one helper, never a second body.

``route()`` decides on which event loop a blocking twin runs its coroutine:

1. From an anyio worker thread (a sync ``@task`` or sync entrypoint body
   run by the runtime, or ``anyio.to_thread.run_sync``): on the loop that
   started the thread, through ``anyio.from_thread``; cancelling the task
   that waits for the thread cancels the call.
2. From a context bound to a loop (inside ``async with Runtime()``: see
   ``bound_to_loop``) in another thread (``asyncio.to_thread``): on that
   loop, whose actors the call needs. On that loop's own thread the call
   would block the very loop it has to run on, so it raises RuntimeError:
   await the async twin there.
3. Anywhere else, plain sync code or a thread that runs an event loop with
   nothing bound to it (a notebook cell, sync code called from asyncio or
   trio code): on the process's shared loop (``stores._portal``), in a copy
   of the caller's context, blocking only the calling thread.

``anyio.from_thread`` (and ``concurrent.futures`` under it) is imported by
the first sync call, not with the library: most processes never make one.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, final

import anyio
import anyio.lowlevel

from ._portal import SharedLoop, running_shared_loop, shared_loop

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Generator

P = ParamSpec("P")
T = TypeVar("T")


@final
class LoopBinding:
    """A context's tie to the running loop of ``owner`` (a Runtime)."""

    __slots__ = ("owner", "spawn", "thread", "token")

    def __init__(
        self,
        owner: str,
        spawn: Callable[[Callable[[], Coroutine[Any, Any, object]]], None],
    ) -> None:
        self.owner = owner
        self.spawn = spawn
        self.token = anyio.lowlevel.current_token()
        self.thread = threading.get_ident()


_BOUND: ContextVar[LoopBinding | None] = ContextVar(
    "actorgraph_loop_binding", default=None
)


@contextmanager
def bound_to_loop(
    owner: str, spawn: Callable[[Callable[[], Coroutine[Any, Any, object]]], None]
) -> Generator[None]:
    """Tie the current context to the running loop while the block runs.

    Sync twins called in this context (or in a thread it was copied to) run
    on this loop; ``spawn(fn)`` must start ``fn()`` as a task there (called
    on the loop). Never blocks; raises NoEventLoopError outside a loop.
    """
    token = _BOUND.set(LoopBinding(owner, spawn))
    try:
        yield
    finally:
        _BOUND.reset(token)


class Hop(Protocol):
    """How a sync caller reaches the loop that serves it."""

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` on the loop and block until it returns (or raises)."""
        ...

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        """Start ``fn()`` as a task on the loop; False if this hop cannot."""
        ...

    def cleanup(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        """``call(fn)`` and True, or False if the loop has already stopped."""
        ...


def _call_unless_finished(
    call: Callable[[Callable[[], Awaitable[object]]], object],
    fn: Callable[[], Coroutine[Any, Any, object]],
) -> bool:
    """``call(fn)`` and True, or False if its loop has already stopped (anyio hops)."""
    try:
        call(fn)
    except anyio.RunFinishedError:
        return False
    return True


@final
class _WorkerHop:
    """From an anyio worker thread back to its loop (``anyio.from_thread``)."""

    __slots__ = ("_binding",)

    def __init__(self, binding: LoopBinding | None) -> None:
        self._binding = binding

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        import anyio.from_thread

        return anyio.from_thread.run(_awaited, fn)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        if self._binding is None:  # a bare worker thread: no task group to start in
            return False
        import anyio.from_thread

        anyio.from_thread.run_sync(self._binding.spawn, fn)
        return True

    def cleanup(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        return _call_unless_finished(self.call, fn)


@final
class _BoundHop:
    """From another thread to the loop a context is bound to (by its token)."""

    __slots__ = ("_binding",)

    def __init__(self, binding: LoopBinding) -> None:
        self._binding = binding

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        import anyio.from_thread

        return anyio.from_thread.run(_awaited, fn, token=self._binding.token)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        import anyio.from_thread

        anyio.from_thread.run_sync(self._binding.spawn, fn, token=self._binding.token)
        return True

    def cleanup(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        return _call_unless_finished(self.call, fn)


@final
class PortalHop:
    """To the process's shared loop."""

    __slots__ = ("_loop",)

    def __init__(self, loop: SharedLoop) -> None:
        self._loop = loop

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        return self._loop.portal.call(_awaited, fn)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        self._loop.portal.start_task_soon(fn)
        return True

    def cleanup(self, fn: Callable[[], Coroutine[Any, Any, object]]) -> bool:
        if self._loop.closed:
            return False
        self.call(fn)
        return True


async def _awaited(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


def _in_worker_thread() -> bool:
    import anyio.from_thread

    try:
        anyio.from_thread.check_cancelled()
    except anyio.NoEventLoopError:
        return False
    return True


def route(what: str) -> Hop:
    """Where a sync call made here runs (see the module docstring); never blocks.

    Starts the shared loop on first use. Raises RuntimeError on the thread
    of a loop the call would need (``what`` names the async method to await
    instead), and the caller's cancellation in a cancelled worker thread.
    """
    binding = _BOUND.get()
    if _in_worker_thread():
        return _WorkerHop(binding)
    if binding is not None:
        if binding.thread == threading.get_ident():
            raise RuntimeError(
                f"a blocking twin of {what} was called on the event loop thread of "
                f"{binding.owner}, whose actors run on that loop: the call would "
                f"block them; await its async twin ({what}) instead, or call the "
                "blocking one from a worker thread (anyio.to_thread.run_sync)"
            )
        return _BoundHop(binding)
    if running_shared_loop() is not None:
        raise RuntimeError(
            f"a blocking twin of {what} was called on the thread of the shared "
            "sync loop (from async code run by a sync call); await its async "
            f"twin ({what}) instead"
        )
    return PortalHop(shared_loop())


def run_sync(
    fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run the coroutine function ``fn`` to completion from synchronous code.

    Blocks the calling thread (never an event loop other than the caller's
    own, when the caller runs one). Raises what ``fn`` raises, and
    RuntimeError where the call would deadlock (see ``route``).
    """
    hop = route(getattr(fn, "__qualname__", repr(fn)))
    return hop.call(functools.partial(fn, *args, **kwargs))
