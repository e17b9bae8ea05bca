"""``astream`` outside a Runtime: leaving early leaves nothing running and raises nothing.

The short-lived Runtime of such a stream lives in a task of its own, not
in the generator's frame: the generator never yields inside a task group,
so it can be closed early, from any task (as the loop's async-generator
finalizer does), without a cancel scope crossing tasks.
"""

from __future__ import annotations

import gc
import logging
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from runtime import entrypoint, task
from stores import MemorySaver

from .conftest import thread


def _flow(saver: MemorySaver, gate: anyio.Event | None = None) -> Any:
    @task
    async def slow(x: int) -> int:
        if gate is not None:
            await gate.wait()
        return x + 1

    @entrypoint(checkpointer=saver, name="flow")
    async def flow(x: int, *, writer: Any) -> int:
        writer("start")
        y = await slow(x)
        writer("end")
        return y

    return flow


async def test_closing_early_waits_for_the_run_and_leaves_no_task(
    saver: MemorySaver,
) -> None:
    flow, cfg = _flow(saver), thread()
    before = len(anyio.get_running_tasks())
    async with aclosing(flow.astream(1, cfg, stream_mode="custom")) as chunks:
        async for chunk in chunks:
            assert chunk == "start"
            break
    # aclose returned: the run committed and its short-lived Runtime let go
    assert len(anyio.get_running_tasks()) == before
    assert (await flow.aget_state(cfg)).values == 2


async def test_a_stream_closed_from_another_task_raises_nothing(
    saver: MemorySaver,
) -> None:
    gate = anyio.Event()
    flow, cfg = _flow(saver, gate), thread()
    before = len(anyio.get_running_tasks())
    chunks = flow.astream(1, cfg, stream_mode="custom")
    assert await anext(chunks) == "start"  # the run now waits on the gate
    async with anyio.create_task_group() as tg:
        tg.start_soon(chunks.aclose)  # what the loop's finalizer does
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert len(anyio.get_running_tasks()) == before
    assert (await flow.aget_state(cfg)).values == 2


# trio warns of every async generator collected unfinished (its advice:
# aclosing); what matters here is that finalizing it raises nothing
@pytest.mark.filterwarnings(
    "ignore:Async generator .* was garbage collected:ResourceWarning"
)
async def test_a_stream_dropped_after_break_is_finalized_cleanly(
    saver: MemorySaver, caplog: pytest.LogCaptureFixture
) -> None:
    flow, cfg = _flow(saver), thread()
    before = len(anyio.get_running_tasks())
    with caplog.at_level(logging.ERROR):
        async for chunk in flow.astream(1, cfg, stream_mode="custom"):
            assert chunk == "start"
            break  # no aclosing: the generator is dropped here
        gc.collect()
        with anyio.fail_after(5):
            # the loop's finalizer closes it in a task of its own
            while len(anyio.get_running_tasks()) > before:  # noqa: ASYNC110 -- the finalizer runs on its own; bounded above
                await anyio.sleep(0.001)
    assert (await flow.aget_state(cfg)).values == 2
    assert [r.getMessage() for r in caplog.records] == []


async def test_a_cancelled_reader_leaves_the_run_committed(saver: MemorySaver) -> None:
    gate = anyio.Event()
    flow, cfg = _flow(saver, gate), thread()
    before = len(anyio.get_running_tasks())
    with anyio.CancelScope() as scope:
        async with aclosing(flow.astream(1, cfg, stream_mode="custom")) as chunks:
            async for _ in chunks:
                scope.cancel()
                gate.set()
    assert scope.cancelled_caught
    assert len(anyio.get_running_tasks()) == before
    assert (await flow.aget_state(cfg)).values == 2


async def test_an_error_in_the_run_reaches_the_reader_after_its_chunks(
    saver: MemorySaver,
) -> None:
    @entrypoint(checkpointer=saver, name="broken")
    async def broken(x: int, *, writer: Any) -> int:
        writer("before")
        raise LookupError("broken")

    seen: list[Any] = []

    async def read() -> None:
        async for chunk in broken.astream(1, thread(), stream_mode="custom"):
            seen.append(chunk)

    before = len(anyio.get_running_tasks())
    with pytest.raises(LookupError, match="broken"):
        await read()
    assert seen == ["before"]
    assert len(anyio.get_running_tasks()) == before
