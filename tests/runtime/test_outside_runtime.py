"""Concurrent calls made outside any Runtime behave as inside one (runtime/_ambient.py)."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from actors import RunCancelledError, ThreadBusyError
from runtime import entrypoint, task
from runtime._ambient import _SLOTS  # pyright: ignore[reportPrivateUsage]
from stores import MemorySaver

from .conftest import thread


def _appender(saver: MemorySaver) -> Any:
    @entrypoint(checkpointer=saver)
    async def chat(msg: str, *, previous: list[str] | None = None) -> list[str]:
        await anyio.lowlevel.checkpoint()  # let the other calls arrive meanwhile
        return [*(previous or []), msg]

    return chat


async def test_concurrent_invokes_on_one_thread_take_turns(saver: MemorySaver) -> None:
    chat = _appender(saver)
    cfg = thread()
    results: list[list[str]] = []

    async def call(msg: str) -> None:
        results.append(await chat.ainvoke(msg, cfg))

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(call, f"m{i}")
    final = (await chat.aget_state(cfg)).values
    assert sorted(final) == [f"m{i}" for i in range(10)]  # each exactly once
    # every caller saw the runs before it: the results are the history's prefixes
    assert sorted(results, key=len) == [final[: n + 1] for n in range(10)]
    assert len([s async for s in chat.aget_state_history(cfg)]) == 10
    assert not _SLOTS


async def test_streams_and_invokes_on_one_thread_take_turns(saver: MemorySaver) -> None:
    chat = _appender(saver)
    cfg = thread()
    streamed: list[Any] = []

    async def stream(msg: str) -> None:
        async for chunk in chat.astream(msg, cfg, stream_mode="values"):
            streamed.append(chunk)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream, "s0")
            tg.start_soon(chat.ainvoke, "i0", cfg)
            tg.start_soon(stream, "s1")
            tg.start_soon(chat.aupdate_state, cfg, ["replaced"])
    history = [s.values async for s in chat.aget_state_history(cfg)]
    assert len(history) == 4  # four writes, none lost to a conflict
    assert len(streamed) == 2 and not _SLOTS


def _blocking(saver: MemorySaver) -> tuple[Any, anyio.Event, anyio.Event, list[str]]:
    started, release = anyio.Event(), anyio.Event()
    ran: list[str] = []

    @task
    async def step(x: str) -> str:
        ran.append(x)
        return x

    @entrypoint(checkpointer=saver)
    async def wf(x: str, *, previous: Any = None) -> Any:
        done = await step(x)
        if x == "slow":
            started.set()
            await release.wait()
        return [done, previous]

    return wf, started, release, ran


async def test_reject_outside_a_runtime_sees_the_busy_thread(
    saver: MemorySaver,
) -> None:
    wf, started, release, _ = _blocking(saver)
    cfg = thread()
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wf.ainvoke, "slow", cfg)
            await started.wait()
            with pytest.raises(ThreadBusyError, match="reject"):
                await wf.ainvoke("other", {**cfg, "multitask_strategy": "reject"})
            release.set()
    assert (await wf.aget_state(cfg)).values == ["slow", None]
    assert not _SLOTS


async def test_interrupt_outside_a_runtime_stops_the_running_call(
    saver: MemorySaver,
) -> None:
    wf, started, _, ran = _blocking(saver)
    cfg = thread()
    errors: list[BaseException] = []

    async def first() -> None:
        try:
            await wf.ainvoke("slow", cfg)
        except RunCancelledError as exc:
            errors.append(exc)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await started.wait()
            fast = await wf.ainvoke("fast", {**cfg, "multitask_strategy": "interrupt"})
    assert fast == ["fast", None]
    assert len(errors) == 1 and ran == ["slow", "fast"]
    assert not _SLOTS


async def test_a_cancelled_waiter_leaves_the_queue(saver: MemorySaver) -> None:
    wf, started, release, ran = _blocking(saver)
    cfg = thread()
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wf.ainvoke, "slow", cfg)
            await started.wait()
            with anyio.CancelScope() as waiting:
                tg.start_soon(lambda: _cancel_soon(waiting))
                await wf.ainvoke("never", cfg)  # queued behind "slow", then cancelled
            assert waiting.cancelled_caught
            release.set()
        assert await wf.ainvoke("after", cfg) == ["after", ["slow", None]]
    assert ran == ["slow", "after"] and not _SLOTS


async def _cancel_soon(scope: anyio.CancelScope) -> None:
    await anyio.wait_all_tasks_blocked()
    scope.cancel()


def test_sync_invokes_from_plain_threads_take_turns(saver: MemorySaver) -> None:
    chat = _appender(saver)
    cfg = thread()
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            chat.invoke(f"m{i}", cfg)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    workers = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert errors == []
    assert sorted(chat.get_state(cfg).values) == [f"m{i}" for i in range(8)]
