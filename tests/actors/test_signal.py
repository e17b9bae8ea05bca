"""``new_signal()``: a one-shot event with anyio.Event's contract on both backends."""

from __future__ import annotations

import anyio
import pytest
import sniffio

from stores._signal import Signal, new_signal


async def test_set_wakes_every_waiter_once() -> None:
    signal, woken = new_signal(), []

    async def waiter(i: int) -> None:
        await signal.wait()
        woken.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(waiter, i)
        await anyio.wait_all_tasks_blocked()
        assert woken == [] and not signal.is_set()
        signal.set()
        signal.set()  # a second set does nothing
    assert sorted(woken) == [0, 1, 2] and signal.is_set()


async def test_waiting_on_a_set_signal_returns_at_once() -> None:
    signal = new_signal()
    signal.set()
    with anyio.fail_after(1):
        await signal.wait()
        await signal.wait()


async def test_a_cancelled_waiter_leaves_the_others_waiting() -> None:
    signal, woken = new_signal(), []

    async def waiter() -> None:
        await signal.wait()
        woken.append(1)

    async with anyio.create_task_group() as tg:
        with anyio.move_on_after(0.01) as scope:
            await signal.wait()
        assert scope.cancelled_caught
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        signal.set()
    assert woken == [1]


async def test_asyncio_gets_the_light_signal_and_trio_anyios_event() -> None:
    signal = new_signal()
    if sniffio.current_async_library() == "asyncio":
        assert isinstance(signal, Signal)
    else:
        assert isinstance(signal, anyio.Event)


def test_a_signal_needs_no_loop_until_waited() -> None:
    signal = Signal()
    signal.set()
    assert signal.is_set()
    with pytest.raises(RuntimeError):  # not in an event loop
        Signal().wait()
