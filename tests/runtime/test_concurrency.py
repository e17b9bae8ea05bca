"""Many threads, many requests per thread, multitask strategies, runtime lifecycle."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from actors import ActorDeadError, RunCancelledError, ThreadBusyError
from runtime import Runtime, entrypoint
from stores import MemorySaver

from .conftest import blocking_workflow, thread


async def test_thousand_threads_keep_their_own_state(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def chat(msg: str, *, previous: list[str] | None = None) -> list[str]:
        await anyio.lowlevel.checkpoint()
        return [*(previous or []), msg]

    async def conversation(i: int) -> None:
        for turn in range(3):
            await chat.ainvoke(f"{i}-{turn}", thread(f"conv-{i}"))

    with anyio.fail_after(60):
        async with Runtime(max_active_threads=2_000), anyio.create_task_group() as tg:
            for i in range(1_000):
                tg.start_soon(conversation, i)
    for i in (0, 499, 999):
        assert (await chat.aget_state(thread(f"conv-{i}"))).values == [
            f"{i}-0",
            f"{i}-1",
            f"{i}-2",
        ]


async def test_fifty_concurrent_requests_on_one_thread_lose_no_update(
    saver: MemorySaver,
) -> None:
    @entrypoint(checkpointer=saver)
    async def add(n: int, *, previous: int | None = None) -> int:
        current = previous or 0
        await anyio.lowlevel.checkpoint()  # let other requests pile up
        return current + n

    cfg = thread("hot")
    async with (
        Runtime(mailbox_size=8),
        anyio.create_task_group() as tg,
    ):  # mailbox smaller than the burst
        for _ in range(50):
            tg.start_soon(add.ainvoke, 1, cfg)
    state = await add.aget_state(cfg)
    assert state.values == 50
    assert len([s async for s in add.aget_state_history(cfg)]) == 50


async def test_enqueue_runs_requests_in_order(saver: MemorySaver) -> None:
    wf, started, release, _ = blocking_workflow(saver)
    cfg = thread()
    results: dict[str, Any] = {}

    async def call(x: str) -> None:
        results[x] = await wf.ainvoke(x, cfg)

    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(call, "slow")
        await started.wait()
        tg.start_soon(call, "next")
        await anyio.wait_all_tasks_blocked()
        assert "next" not in results
        release.set()
    assert results == {"slow": ["slow", None], "next": ["next", ["slow", None]]}


async def test_reject_fails_fast_while_busy(saver: MemorySaver) -> None:
    wf, started, release, _ = blocking_workflow(saver)
    cfg = thread()
    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(wf.ainvoke, "slow", cfg)
        await started.wait()
        with pytest.raises(ThreadBusyError, match="reject"):
            await wf.ainvoke("other", {**cfg, "multitask_strategy": "reject"})
        release.set()
    assert (await wf.aget_state(cfg)).values == ["slow", None]


async def test_interrupt_strategy_keeps_progress(saver: MemorySaver) -> None:
    wf, started, _, ran = blocking_workflow(saver)
    cfg = thread()
    errors: list[BaseException] = []

    async def first() -> None:
        try:
            await wf.ainvoke("slow", cfg)
        except RunCancelledError as exc:
            errors.append(exc)

    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        assert await wf.ainvoke("fast", {**cfg, "multitask_strategy": "interrupt"}) == [
            "fast",
            None,
        ]
    assert len(errors) == 1 and "kept" in str(errors[0])
    assert ran == ["slow", "fast"]


async def test_interrupted_run_resumes_with_none(saver: MemorySaver) -> None:
    wf, started, release, ran = blocking_workflow(saver)
    cfg = thread()
    results: list[Any] = []

    async def first() -> None:
        with pytest.raises(RunCancelledError):
            await wf.ainvoke("slow", cfg)

    async def resume() -> None:
        results.append(await wf.ainvoke(None, cfg))

    async with Runtime(multitask_strategy="interrupt"), anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        started = anyio.Event()
        # input None continues the interrupted run: its finished task is not run again
        tg.start_soon(resume)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert results == [["slow", None]]
    assert ran == ["slow"]


async def test_rollback_discards_progress(saver: MemorySaver) -> None:
    wf, started, _, ran = blocking_workflow(saver)
    cfg = thread("rb")

    async def first() -> None:
        with pytest.raises(RunCancelledError, match="discarded"):
            await wf.ainvoke("slow", cfg, durability="sync")  # recorded before started

    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        state = await saver.aload("rb")
        assert state.run is not None and len(state.records) == 1
        # rollback replaces the run; nothing of "slow" survives
        assert await wf.ainvoke("fast", {**cfg, "multitask_strategy": "rollback"}) == [
            "fast",
            None,
        ]
    assert ran == ["slow", "fast"]
    assert (await saver.aload("rb")).run is None


async def test_idle_threads_passivate_and_come_back(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def count(_: Any, *, previous: int | None = None) -> int:
        return (previous or 0) + 1

    async with Runtime(idle_timeout=0.05) as rt:
        assert await count.ainvoke(None, thread("idle")) == 1
        with anyio.fail_after(5):
            while rt.statistics().threads[0].active:  # noqa: ASYNC110 -- a timer passivates it; bounded above
                await anyio.sleep(0.01)
        assert rt.statistics().threads[0].passivations == 1
        assert await count.ainvoke(None, thread("idle")) == 2
        assert rt.statistics().threads[0].activations == 2


async def test_active_thread_bound_evicts_least_recently_used(
    saver: MemorySaver,
) -> None:
    @entrypoint(checkpointer=saver)
    async def count(_: Any, *, previous: int | None = None) -> int:
        return (previous or 0) + 1

    async with Runtime(max_active_threads=3) as rt:
        for _ in range(2):
            for i in range(10):
                await count.ainvoke(None, thread(f"lru-{i}"))
        stats = rt.statistics().threads[0]
        assert stats.active <= 3 and stats.evictions >= 14
    for i in range(10):
        assert (await count.aget_state(thread(f"lru-{i}"))).values == 2


async def test_runtime_is_single_use_and_fails_queued_requests(
    saver: MemorySaver,
) -> None:
    wf, started, release, ran = blocking_workflow(saver)
    cfg = thread()
    rt = Runtime()
    outcomes: dict[str, Any] = {}

    async def call(x: str) -> None:
        try:
            outcomes[x] = await wf.ainvoke(x, cfg)
        except ActorDeadError as exc:
            outcomes[x] = exc

    async def release_once_closing() -> None:
        await anyio.wait_all_tasks_blocked()  # the Runtime is now waiting for "slow"
        release.set()

    async with anyio.create_task_group() as tg, rt:
        tg.start_soon(call, "slow")
        await started.wait()
        tg.start_soon(call, "queued")
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(release_once_closing)
    # the running request finished; the queued one failed without running
    assert outcomes["slow"] == ["slow", None]
    assert isinstance(outcomes["queued"], ActorDeadError)
    assert ran == ["slow"]
    with pytest.raises(RuntimeError, match="once"):
        async with rt:
            pass


def test_runtime_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="multitask_strategy"):
        Runtime(multitask_strategy="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_timeout"):
        Runtime(idle_timeout=0)
