"""GroupWriter: concurrent callers share one pipeline; a command that leans on
what was read before a reconnect is refused before it is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from redis.asyncio import Redis

from stores.redis._pipeline import GroupWriter, Reconnected
from tests.redis_server import admin

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_concurrent_calls_share_one_pipeline_and_keep_their_replies(
    client: Redis, redis_prefix: str
) -> None:
    sent: list[int] = []
    writer = GroupWriter(client, [])
    original = writer._pipeline

    async def counting(batch: list[object]) -> list[object]:
        sent.append(len(batch))
        return await original(batch)  # type: ignore[arg-type] -- the same batch

    writer._pipeline = counting  # type: ignore[method-assign]
    replies: dict[int, object] = {}

    async def one(i: int) -> None:
        replies[i] = await writer.call(("INCRBY", f"{redis_prefix}:n", i))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(1, 41):
                tg.start_soon(one, i)
    assert sum(sent) == 40 and len(sent) < 40
    assert int(admin().get(f"{redis_prefix}:n") or 0) == sum(range(1, 41))
    assert sorted(replies) == list(range(1, 41))


async def test_a_command_from_before_a_reconnect_is_refused_unsent(
    client: Redis, redis_prefix: str
) -> None:
    connects = [0]
    writer = GroupWriter(client, [], connects=lambda: connects[0])
    key = f"{redis_prefix}:k"
    reply, seen = await writer.call_seen(("SET", key, "1"), epoch=0)
    assert (reply, seen) == (b"OK", 0)
    connects[0] = 1  # as a reconnect would
    with pytest.raises(Reconnected):
        await writer.call_seen(("SET", key, "2"), epoch=0)
    assert admin().get(key) == b"1"  # never sent
    assert (await writer.call_seen(("SET", key, "3"), epoch=1))[1] == 1
    assert admin().get(key) == b"3"


async def test_a_leader_whose_own_command_missed_its_batch_is_not_left_waiting(
    client: Redis, redis_prefix: str
) -> None:
    # The hang of two processes taking turns on 500 threads (58 commits never
    # answered): a caller that leads while a full batch waits ahead of it
    # sends that batch without its own command; the lead then passes to the
    # queue's first call, which is its own, and it must lead again, not wait.
    writer = GroupWriter(client, [], max_batch=2)
    key = f"{redis_prefix}:n"
    replies: list[object] = []

    async def first_then_second() -> None:
        replies.append(await writer.call(("INCR", key)))  # others queue meanwhile
        # It goes on before the call it handed the lead to runs, and leads
        # again, with the two queued calls ahead of it: a full batch.
        replies.append(await writer.call(("INCR", key)))

    async def queued() -> None:
        replies.append(await writer.call(("INCR", key)))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first_then_second)
            await anyio.lowlevel.checkpoint()  # its first call is out
            tg.start_soon(queued)
            tg.start_soon(queued)
    assert sorted(replies) == [1, 2, 3, 4]  # type: ignore[type-var] -- ints
