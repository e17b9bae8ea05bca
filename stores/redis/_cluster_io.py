"""The cluster's only door to Redis: one round trip, a group writer, a dedicated reader.

Every command the cluster sends (membership, leases, inboxes, replies,
fences) goes out through the transport's one send path (``_pipeline.send``
/ ``run``, which also reloads a missing script), through a ``GroupWriter``
that batches the single commands of concurrent turns (a request, an
answer, a chunk), or, for blocking reads (``XREADGROUP``/``XREAD ...
BLOCK``), on a connection of its own that never comes from the pool: a
read that blocks for a second must not hold a pooled connection others
wait for. All of it runs on asyncio and trio alike.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, final

from ._pipeline import GroupWriter, run, send
from ._transport import open_connection
from ._wire import ReplyError, pack_commands

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from ._connection import RedisConnection
    from ._transport import Connection
    from ._wire import Script


async def pipeline(
    conn: RedisConnection,
    commands: Sequence[tuple[Any, ...]],
    scripts: Sequence[Script] = (),
) -> list[Any]:
    """Send ``commands`` in one round trip; replies in order, refusals as ReplyError in place.

    A missing script (a restarted Redis) is loaded and the refused commands
    sent again (``_pipeline.send``).

    Raises:
        RedisConnectionError: Redis is unreachable (the caller translates it).
    """
    replies, _ = await send(await conn.client(), commands, scripts)
    return replies


async def call(
    conn: RedisConnection, *args: Any, scripts: Sequence[Script] = ()
) -> Any:
    """One command; its reply.

    Raises:
        ReplyError: Redis refused it.
        RedisConnectionError: Redis is unreachable.
    """
    return (await run(await conn.client(), [args], scripts))[0]


async def writer(conn: RedisConnection, scripts: Sequence[Script]) -> GroupWriter:
    """The group writer of ``conn``'s client in this event loop (one per client)."""
    return GroupWriter.of(await conn.client(), scripts)


@final
class Dedicated:
    """A connection outside the pool, for one reader of blocking commands."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def __call__(self, *args: Any) -> Any:
        """Send one command on this connection; its reply.

        A cancellation or failure closes the connection (a half-read reply
        is never read by the next command); open a new ``dedicated`` then.

        Raises:
            ReplyError: Redis refused it.
            RedisConnectionError: the connection broke.
        """
        return (await self.many([args]))[0]

    async def many(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one round trip on this connection; their replies.

        Raises:
            ReplyError: Redis refused one of them (the first refusal).
            RedisConnectionError: the connection broke.
        """
        replies = await self._connection.roundtrip(
            pack_commands(commands), len(commands)
        )
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply
        return replies


@asynccontextmanager
async def dedicated(conn: RedisConnection) -> AsyncGenerator[Dedicated]:
    """A connection of its own (not pooled) for blocking reads; closed on exit.

    Raises:
        RedisConnectionError: no connection could be opened.
    """
    client = await conn.client()
    connection = await open_connection(client.address, client.counters)
    try:
        yield Dedicated(connection)
    finally:
        await connection.aclose()


__all__ = ["Dedicated", "ReplyError", "call", "dedicated", "pipeline", "writer"]
