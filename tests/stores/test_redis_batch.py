"""GroupWriter: concurrent callers share one pipeline; a command that leans on
what was read before a reconnect is refused before it is sent; callers
cancelled while queued or while handed the turn to lead never stall the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from stores.redis._connection import RedisConnection
from stores.redis._pipeline import GroupWriter, Reconnected
from tests.redis_server import admin

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from stores.redis._transport import Client

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    connection = RedisConnection(redis_url)
    yield await connection.client()
    await connection.aclose()


async def test_concurrent_calls_share_one_pipeline_and_keep_their_replies(
    client: Client, redis_prefix: str
) -> None:
    writer = GroupWriter(client, [])
    replies: dict[int, object] = {}

    async def one(i: int) -> None:
        replies[i] = await writer.call(("INCRBY", f"{redis_prefix}:n", i))

    before = client.counters.round_trips
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(1, 41):
                tg.start_soon(one, i)
    assert client.counters.round_trips - before < 40
    assert int(admin().get(f"{redis_prefix}:n") or 0) == sum(range(1, 41))
    assert sorted(replies) == list(range(1, 41))
    assert len(set(replies.values())) == 40  # each its own running total


async def test_a_command_from_before_a_reconnect_is_refused_unsent(
    client: Client, redis_prefix: str
) -> None:
    writer = GroupWriter(client, [])
    key = f"{redis_prefix}:k"
    await writer.call(("PING",))  # connected: no reconnect is due
    epoch = client.epoch
    reply, seen = await writer.call_seen(("SET", key, "1"), epoch=epoch)
    assert (reply, seen) == (b"OK", epoch)
    client.counters.epoch += 1  # as a reconnect would
    with pytest.raises(Reconnected):
        await writer.call_seen(("SET", key, "2"), epoch=epoch)
    assert admin().get(key) == b"1"  # never sent
    assert (await writer.call_seen(("SET", key, "3"), epoch=epoch + 1))[1] == epoch + 1
    assert admin().get(key) == b"3"


async def test_batches_hold_at_most_max_batch_and_the_turn_passes_on(
    client: Client, redis_prefix: str
) -> None:
    writer = GroupWriter(client, [], max_batch=4)
    key = f"{redis_prefix}:n"
    await writer.call(("INCR", key))  # a connection is open: later calls only send
    before = client.counters.round_trips
    cancelled = set(range(0, 30, 5))

    async def one(i: int) -> None:
        with anyio.CancelScope() as scope:
            if i in cancelled:
                scope.cancel()  # at its first await: queued, or handed the turn
            await writer.call(("INCR", key))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(one, i)
    sent = int(admin().get(key) or 0) - 1
    assert 30 - len(cancelled) <= sent <= 30
    assert client.counters.round_trips - before >= sent / 4


async def test_a_leader_outside_its_own_batch_still_gets_its_reply(
    client: Client, redis_prefix: str
) -> None:
    # The first call's reply is held back (BLPOP) until two more calls queue
    # behind it. Its task then calls again at once, before the next in line
    # wakes: that call finds nobody sending and leads a batch of the two
    # queued ones (max_batch=2), not itself, and is then first in the queue.
    # The turn to lead must reach it (the old hand-over, which reused the
    # reply signal, lost it: a wave of >64 commits hung; the integrator's
    # two_process_waves repro).
    writer = GroupWriter(client, [], max_batch=2)
    key, gate = f"{redis_prefix}:n", f"{redis_prefix}:gate"

    async def first() -> None:
        await writer.call(("BLPOP", gate, 5))
        await writer.call(("INCR", key))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.wait_all_tasks_blocked()  # BLPOP sent, waiting
            for _ in range(2):
                tg.start_soon(writer.call, ("INCR", key))
            await anyio.wait_all_tasks_blocked()  # both queued behind it
            admin().rpush(gate, "go")
    assert admin().get(key) == b"3"


async def test_a_full_batch_goes_out_while_another_is_in_flight(
    client: Client, redis_prefix: str
) -> None:
    # The first batch (a BLPOP) is held in flight; two more calls make a full
    # batch (max_batch=2), which goes out on a second connection at once.
    writer = GroupWriter(client, [], max_batch=2, max_flying=2)
    key, gate = f"{redis_prefix}:n", f"{redis_prefix}:gate"
    answered: list[object] = []
    both = anyio.Event()

    async def incr() -> None:
        answered.append(await writer.call(("INCR", key)))
        if len(answered) == 2:
            both.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.call, ("BLPOP", gate, 10))
            await anyio.wait_all_tasks_blocked()  # BLPOP sent, waiting
            for _ in range(2):
                tg.start_soon(incr)
            await both.wait()  # answered while the BLPOP still waits
            assert admin().get(key) == b"2"
            admin().rpush(gate, "go")


async def test_a_leader_whose_queue_another_took_sends_nothing(
    client: Client, redis_prefix: str
) -> None:
    # Under load a leader waits one scheduling step before it takes its
    # batch. Meanwhile a second caller makes the queue a full batch and leads
    # it alongside, taking both commands: the first leader then has nothing to
    # send (an empty batch would wait for a reply that never comes).
    writer = GroupWriter(client, [], max_batch=2, max_flying=2)
    key = f"{redis_prefix}:n"
    async with anyio.create_task_group() as tg:  # three calls: the writer is busy
        for _ in range(3):
            tg.start_soon(writer.call, ("INCR", key))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(writer.call, ("INCR", key))
    assert admin().get(key) == b"5"


async def test_waves_of_calls_over_several_connections_all_finish(
    client: Client, redis_prefix: str
) -> None:
    # Waves of callers, each calling again as soon as it is answered: leaders
    # run side by side, and one that finds the queue emptied by another meanwhile
    # sends nothing (an empty batch would wait for a reply that never comes).
    writer = GroupWriter(client, [], max_batch=4, max_flying=4)
    key = f"{redis_prefix}:n"

    async def one() -> None:
        for _ in range(5):
            await writer.call(("INCR", key))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(300):
                tg.start_soon(one)
    assert admin().get(key) == b"1500"
    assert client.connects > 1  # the batches did fly side by side
