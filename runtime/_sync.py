"""Sync twins: every blocking method is a thin adapter over its async twin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from anyio.streams.memory import MemoryObjectSendStream

from stores._shared import run_sync as run_sync

T = TypeVar("T")


def iterate_sync(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate the async iterator ``make()`` from sync code, item by item.

    The async iterator runs whole in one task of a private event loop (a
    blocking portal), so its cancel scopes and task groups stay in one task.
    Leaving the loop early cancels it.
    """
    with anyio.from_thread.start_blocking_portal() as portal:
        send, recv = portal.call(_stream_pair)
        future = portal.start_task_soon(_pump, make, send)
        try:
            while True:
                try:
                    item: T = portal.call(recv.receive)
                except anyio.EndOfStream:
                    break
                yield item
            future.result()
        finally:
            if not future.done():
                future.cancel()
            portal.call(recv.aclose)


def _stream_pair() -> Any:
    return anyio.create_memory_object_stream[Any](0)


async def _pump(
    make: Callable[[], AsyncIterator[T]], send: MemoryObjectSendStream[T]
) -> None:
    async with send, aclosing(make()) as items:  # pyright: ignore[reportArgumentType] -- an async generator
        async for item in items:
            await send.send(item)
