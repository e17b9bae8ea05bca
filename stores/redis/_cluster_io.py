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

import anyio
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


class _Slot:
    __slots__ = ("done", "error", "replies", "wake")

    def __init__(self) -> None:
        self.wake = anyio.Event()  # set once: the replies are in, or this sender leads
        self.done = False
        self.replies: list[Any] = []
        self.error: BaseException | None = None


class Batcher:
    """Concurrent senders share round trips: commands queued while one is in flight go together.

    One sender at a time leads: it sends everything queued in one pipeline,
    then hands the lead to the first sender that queued meanwhile (so no
    sender keeps flushing for others). Waiting and leading are shielded: a
    cancelled sender cannot strand the others; each round trip is bounded
    by the connection's socket timeout.
    """

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._queued: list[tuple[Sequence[tuple[Any, ...]], _Slot]] = []
        self._leading = False

    async def send(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Replies to ``commands`` in order (refusals as CommandError); raises connection errors."""
        slot = _Slot()
        self._queued.append((commands, slot))
        with anyio.CancelScope(shield=True):
            if self._leading:
                await slot.wake.wait()
            else:
                self._leading = True
            if not slot.done:  # this sender leads
                try:
                    await self._flush()
                finally:
                    if self._queued:
                        self._queued[0][1].wake.set()  # the next one leads
                    else:
                        self._leading = False
        if slot.error is not None:
            raise slot.error
        return slot.replies

    async def _flush(self) -> None:
        batch, self._queued = self._queued, []
        try:
            replies = await pipeline(self._conn, [c for cmds, _ in batch for c in cmds])
        except Exception as exc:  # noqa: BLE001 -- each sender raises it
            for _, slot in batch:
                slot.error, slot.done = exc, True
                slot.wake.set()
            return
        at = 0
        for cmds, slot in batch:
            slot.replies = replies[at : at + len(cmds)]
            at += len(cmds)
            slot.done = True
            slot.wake.set()
