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
