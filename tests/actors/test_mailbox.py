"""Mailbox: bounded FIFO with backpressure, close, drain and statistics."""

from __future__ import annotations

import anyio
import pytest

from actors import ActorDeadError, MailboxFullError
from actors._mailbox import Mailbox, MailboxStats


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Mailbox[int](0)


def test_send_nowait_raises_when_full() -> None:
    box = Mailbox[int](2)
    box.send_nowait(1)
    box.send_nowait(2)
    with pytest.raises(MailboxFullError, match="mailbox full"):
        box.send_nowait(3)
    assert box.statistics() == MailboxStats(
        depth=2, capacity=2, waiting_senders=0, closed=False
    )
    assert len(box) == 2
    assert box.receive_nowait() == 1
    box.send_nowait(3)  # room again after a receive
    assert box.drain() == [2, 3]


async def test_send_waits_while_full_then_unblocks_after_receive() -> None:
    box = Mailbox[str](1)
    await box.send("first")
    sent = anyio.Event()

    async def sender() -> None:
        await box.send("second")
        sent.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender)
            await anyio.wait_all_tasks_blocked()
            assert not sent.is_set(), "send returned although the mailbox was full"
            assert box.statistics().waiting_senders == 1
            assert box.statistics().depth == 1

            assert await box.receive() == "first"
            await sent.wait()
        assert await box.receive() == "second"
    assert box.statistics() == MailboxStats(
        depth=0, capacity=1, waiting_senders=0, closed=False
    )
    assert box.drain() == []


async def test_fifo_order_across_waiting_senders() -> None:
    box = Mailbox[int](2)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(box.send, i)
                await anyio.wait_all_tasks_blocked()  # fixes the arrival order
            assert box.statistics().waiting_senders == 4
            received = [await box.receive() for _ in range(6)]
    assert received == list(range(6))
    assert box.drain() == []


async def test_send_after_close_raises_retriable_actor_dead() -> None:
    box = Mailbox[int](2)
    box.close()
    with anyio.fail_after(5):
        with pytest.raises(ActorDeadError) as info:
            await box.send(1)
    assert info.value.retriable is True
    with pytest.raises(ActorDeadError) as info_nowait:
        box.send_nowait(1)
    assert info_nowait.value.retriable is True
    assert box.statistics().closed is True
    assert box.drain() == []


async def test_close_keeps_queued_messages_for_the_owner() -> None:
    box = Mailbox[int](4)
    box.send_nowait(1)
    box.send_nowait(2)
    box.close()
    with anyio.fail_after(5):
        assert await box.receive() == 1
        assert await box.receive() == 2
        with pytest.raises(anyio.EndOfStream):
            await box.receive()
    assert box.drain() == []


async def test_drain_returns_queued_items_and_those_of_blocked_senders() -> None:
    box = Mailbox[int](2)
    box.send_nowait(1)
    box.send_nowait(2)
    outcomes: dict[int, str] = {}

    async def sender(item: int) -> None:
        try:
            await box.send(item)
        except ActorDeadError:
            outcomes[item] = "dead"
        else:
            outcomes[item] = "queued"

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for item in (3, 4):
                tg.start_soon(sender, item)
                await anyio.wait_all_tasks_blocked()
            assert box.statistics().waiting_senders == 2

            drained = box.drain()

    # Nothing is dropped silently: every item is either drained (so its owner
    # can fail it) or its sender was told the actor is dead.
    assert sorted(drained + [i for i, o in outcomes.items() if o == "dead"]) == [
        1,
        2,
        3,
        4,
    ]
    assert drained[:2] == [1, 2]
    assert set(outcomes) == {3, 4}
    for item, outcome in outcomes.items():
        assert (item in drained) == (outcome == "queued")
    stats = box.statistics()
    assert stats.closed is True
    assert stats.depth == 0
    assert stats.waiting_senders == 0
    with pytest.raises(ActorDeadError):
        box.send_nowait(5)


async def test_drain_of_an_empty_mailbox() -> None:
    box = Mailbox[int](3)
    assert box.drain() == []
    assert box.statistics() == MailboxStats(
        depth=0, capacity=3, waiting_senders=0, closed=True
    )
    with anyio.fail_after(5), pytest.raises(ActorDeadError):
        await box.send(1)


def test_drain_twice_returns_nothing_the_second_time() -> None:
    box = Mailbox[int](3)
    box.send_nowait(1)
    assert box.drain() == [1]
    assert box.drain() == []


def test_statistics_is_a_frozen_snapshot() -> None:
    box = Mailbox[int](3)
    box.send_nowait(1)
    before = box.statistics()
    box.send_nowait(2)
    assert before.depth == 1
    assert box.statistics().depth == 2
    with pytest.raises(AttributeError):
        before.depth = 5  # type: ignore[misc]
    assert box.drain() == [1, 2]
