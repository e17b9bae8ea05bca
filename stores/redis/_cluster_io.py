# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""The cluster's only door to Redis: one call, one pipeline, one blocking read.

Every Redis command the cluster sends (membership, leases, inboxes,
replies, fences) goes through these three functions, so that a change of
Redis client is a change here alone. They sit on what ``RedisConnection``
offers (``client()``, ``send_commands``, ``send_on``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from ._connection import RedisConnection, Script, load_scripts, send_commands, send_on


class CommandError(Exception):
    """Redis refused a command (the text of its error reply)."""


async def pipeline(
    conn: RedisConnection,
    commands: Sequence[tuple[Any, ...]],
    scripts: Sequence[Script] = (),
) -> list[Any]:
    """Send ``commands`` in one round trip; replies in order, refusals as CommandError.

    A missing script (a restarted Redis) loads ``scripts`` and sends once more.
    Raises redis' connection errors (the caller translates them).
    """
    client = await conn.client()
    for attempt in range(2):
        replies = await send_commands(client, commands)
        if (
            attempt == 0
            and scripts
            and any(isinstance(r, NoScriptError) for r in replies)
        ):
            await load_scripts(client, scripts)
            continue
        return [
            CommandError(str(r)) if isinstance(r, ResponseError) else r for r in replies
        ]
    raise AssertionError("unreachable")  # pragma: no cover


async def call(
    conn: RedisConnection, *args: Any, scripts: Sequence[Script] = ()
) -> Any:
    """One command; its reply. Raises CommandError if Redis refused it."""
    reply = (await pipeline(conn, (args,), scripts))[0]
    if isinstance(reply, CommandError):
        raise reply
    return reply


@asynccontextmanager
async def dedicated(conn: RedisConnection) -> AsyncGenerator[Any]:
    """A connection of its own for blocking reads (``XREADGROUP ... BLOCK``).

    Yields ``send(*args)``, which sends one command on it and returns the
    reply (raising CommandError if refused). The connection goes back to the
    pool on exit (disconnected if a read was cut short).
    """
    client = await conn.client()
    pool = client.connection_pool
    connection = await pool.get_connection()

    async def send(*args: Any) -> Any:
        reply = (await send_on(connection, (args,)))[0]
        if isinstance(reply, ResponseError):
            raise CommandError(str(reply))
        return reply

    try:
        yield send
    finally:
        await pool.release(connection)
