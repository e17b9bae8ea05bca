"""A Runtime serves calls made on its event loop from tasks outside its block.

This is how web frameworks run it: the lifespan enters ``async with
Runtime()`` in one task, and each request runs in a task that does not
inherit that task's context.
"""

from __future__ import annotations

from typing import Any

import anyio

from runtime import Runtime, entrypoint
from stores import MemorySaver

from .conftest import thread


def _counter() -> Any:
    @entrypoint(checkpointer=MemorySaver())
    async def count(_: Any, *, previous: int | None = None) -> int:
        return (previous or 0) + 1

    return count


async def _call_from_outside(count: Any, rt_kwargs: dict[str, Any]) -> Runtime:
    """Enter a Runtime in one task; call ``count`` from a task started before it."""
    entered, done = anyio.Event(), anyio.Event()
    runtime = Runtime(**rt_kwargs)

    async def lifespan() -> None:
        async with runtime:
            entered.set()
            await done.wait()

    async def request() -> None:
        await entered.wait()
        assert await count.ainvoke(None, thread("t")) == 1
        assert await count.ainvoke(None, thread("t")) == 2
        done.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(request)  # its context is copied now: no Runtime in it
            tg.start_soon(lifespan)
    return runtime


async def test_a_request_task_outside_the_block_runs_on_the_loops_runtime() -> None:
    runtime = await _call_from_outside(_counter(), {})
    # both calls found the warm thread of the lifespan's Runtime
    assert [s.activations for s in runtime.statistics().threads] == [1]


async def test_once_the_block_is_left_the_loop_has_no_runtime_again() -> None:
    count = _counter()
    runtime = await _call_from_outside(count, {})
    assert await count.ainvoke(None, thread("later")) == 1  # a short-lived one
    assert [s.activations for s in runtime.statistics().threads] == [1]


async def test_serve_loop_false_keeps_the_runtime_to_its_block() -> None:
    runtime = await _call_from_outside(_counter(), {"serve_loop": False})
    assert runtime.statistics().threads == []  # the calls ran in short-lived ones
