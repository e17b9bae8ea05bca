"""Sync twins: every blocking method is a thin adapter over its async twin.

Where they run is decided in ``stores._sync.route`` (the caller's own loop
from a worker thread, a Runtime's loop from a context bound to it, else
the process's shared loop).
"""

from __future__ import annotations

import contextvars
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
)
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import anyio
import sniffio

from stores._shared import PortalHop, route, run_sync as run_sync, shared_loop

from ._ambient import call_host

if TYPE_CHECKING:
    from stores import CheckpointSaver

    from ._host import Runtime

T = TypeVar("T")

_JOINED: set[Any] = set()  # asyncio tasks of start_joined, referenced until done


def start_joined(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``fn()`` now as a task of the running loop, in a copy of this context.

    For the one task anyio gives no owner to: one that must outlive the
    caller's frame between two awaits (an async generator's producer), so
    no task group of the caller can hold it. The caller owns it instead:
    it must join it (wait for an event ``fn`` sets when it ends) before it
    returns. ``fn`` must not raise (on trio it is a system task, whose
    error would crash the run); cancelled, it ends as the loop shuts down.
    """
    if sniffio.current_async_library() == "trio":
        import trio  # here only: trio runs, so it is installed

        trio.lowlevel.spawn_system_task(fn, context=contextvars.copy_context())
        return
    # the asyncio side of the same: a loop task, kept referenced until done
    import asyncio  # noqa: TID251 -- a loop task anyio has no owner for (loaded: it runs)

    task = asyncio.get_running_loop().create_task(fn())
    _JOINED.add(task)
    task.add_done_callback(_JOINED.discard)


def iterate_sync(
    open_items: Callable[[], AbstractAsyncContextManager[AsyncIterator[T]]], what: str
) -> Iterator[T]:
    """Iterate, from sync code, the async iterator that ``open_items()`` yields.

    The context and its iterator run whole in one task of the serving loop
    (see ``stores._sync.route``; the shared loop from a bare worker thread),
    so their cancel scopes and task groups stay in one task. Each item
    blocks the caller until it arrives. Leaving early (``break``,
    ``close()``, an error in the loop body) stops reading: the context then
    exits normally, and ``close()`` returns once it has. Raises what the
    iterator or context raises, after the items before it; RuntimeError
    where ``route`` refuses (``what`` names the async method to await).
    """
    hop = route(what)
    pump = _Pump(open_items)
    try:
        if not hop.spawn(pump.run):
            hop = PortalHop(shared_loop())
            hop.spawn(pump.run)
    except BaseException:
        pump.abandon()  # it never started: nothing else will close its streams
        raise
    try:
        while True:
            try:
                item = hop.call(pump.receive)
            except anyio.EndOfStream:
                break
            yield item
        hop.call(pump.result)
    finally:
        if not hop.cleanup(pump.aclose):
            pump.abandon()  # the loop is gone (interpreter exit): just free the streams


async def pumped(
    open_items: Callable[[], AbstractAsyncContextManager[AsyncIterator[T]]],
) -> AsyncGenerator[T]:
    """The items of ``open_items()``, run in a task of this loop that the caller joins.

    The context (a short-lived Runtime, say) lives in that task, not in
    this generator's frame: the generator never yields inside a task group
    or cancel scope, so it may be closed early from any task (the loop's
    async-generator finalizer, after a bare ``break``). Leaving early stops
    reading: the context then exits normally, and ``aclose()`` returns once
    it has (shielded: a cancelled reader waits for it too). Raises what the
    iterator or context raises, after the items before it.
    """
    pump = _Pump(open_items)
    pump.expect_run()
    start_joined(pump.run)
    try:
        while True:
            try:
                item = await pump.receive()
            except anyio.EndOfStream:
                break
            yield item
        await pump.result()
    finally:
        await pump.aclose()


@asynccontextmanager
async def hosted(
    checkpointer: CheckpointSaver | None,
    config: Mapping[str, Any] | None,
    make: Callable[[Runtime], AsyncGenerator[T]],
) -> AsyncGenerator[AsyncIterator[T]]:
    """The items of ``make(host)``, on the current Runtime or a short-lived one.

    The host is the one ``call_host`` picks for the thread ``config`` names.
    A context, not an async generator, holds the short-lived Runtime: leaving
    the block early exits the Runtime normally (its runs finish) instead of
    throwing GeneratorExit into its task group.
    """
    async with call_host(checkpointer, config) as host, aclosing(make(host)) as items:
        yield items


@final
class _Pump(Generic[T]):
    """One async iterator run in one task of a loop; a sync thread pulls its items.

    Every async method runs on that loop, so the fields need no lock.
    """

    __slots__ = ("_closed", "_done", "_error", "_finished", "_open", "_recv", "_send")

    def __init__(
        self, open_items: Callable[[], AbstractAsyncContextManager[AsyncIterator[T]]]
    ) -> None:
        self._open = open_items
        self._send, self._recv = anyio.create_memory_object_stream[T](0)
        self._done: anyio.Event | None = None
        self._error: Exception | None = None
        self._finished = False
        self._closed = False

    def expect_run(self) -> None:
        """On the loop, before ``run`` starts: ``aclose`` then waits for it even so."""
        self._done = anyio.Event()

    async def run(self) -> None:
        """Send every item until the end or until the reader leaves; keep the error for ``result``."""
        if self._done is None:
            self._done = anyio.Event()
        if self._closed:  # the reader left before this task started
            self._send.close()
            self._done.set()
            return
        try:
            async with self._send, self._open() as items:
                async for item in items:
                    try:
                        await self._send.send(item)
                    except anyio.BrokenResourceError:  # the reader left
                        break
            self._finished = True
        # The second boundary beside Actor._handle: the iterator's error is
        # the reader's, raised in its thread by ``result``, not this task's.
        except Exception as exc:  # noqa: BLE001
            self._error = exc
        finally:
            self._done.set()

    async def receive(self) -> T:
        """The next item; EndOfStream after the last."""
        return await self._recv.receive()

    async def result(self) -> None:
        """Wait for the end; raise the error, or RuntimeError if the task was cancelled."""
        if self._done is not None:
            await self._done.wait()
        if self._error is not None:
            raise self._error
        if not self._finished:
            raise RuntimeError(
                "the stream stopped before its end: the event loop serving it is shutting down"
            )

    def abandon(self) -> None:
        """Close both stream ends from any thread, once the loop has stopped."""
        self._send.close()
        self._recv.close()

    async def aclose(self) -> None:
        """Stop reading and wait until the context has exited. Idempotent."""
        self._closed = True
        self._recv.close()
        if self._done is not None:
            with anyio.CancelScope(shield=True):
                await self._done.wait()
