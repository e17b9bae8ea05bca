"""The journal's write lock: one writer at a time, and a cancelled waiter holds nothing."""

from __future__ import annotations

import anyio
import anyio.lowlevel

from actors._journal import _WriteLock  # pyright: ignore[reportPrivateUsage] -- the unit under test


async def test_writers_take_turns_in_the_locked_block() -> None:
    lock = _WriteLock()
    inside: list[int] = []
    overlaps: list[int] = []

    async def writer(i: int) -> None:
        async with lock:
            if inside:
                overlaps.append(i)
            inside.append(i)
            await anyio.lowlevel.checkpoint()
            inside.remove(i)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(writer, i)
    assert overlaps == []
    assert inside == []


async def test_a_cancelled_waiter_leaves_the_lock_free() -> None:
    lock = _WriteLock()
    entered: list[str] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await lock.__aenter__()  # held, so the waiter waits

            async def waiter() -> None:
                with anyio.CancelScope() as scope:
                    waiting.append(scope)
                    async with lock:
                        entered.append("cancelled one")

            waiting: list[anyio.CancelScope] = []
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            waiting[0].cancel()
            await anyio.wait_all_tasks_blocked()
            await lock.__aexit__(None, None, None)
            async with lock:  # free: taken at once
                entered.append("next")
    assert entered == ["next"]
