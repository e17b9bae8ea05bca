"""Request streams of shards and reply streams of members.

A request for a thread goes to its shard's stream ``P:q:S`` (consumer
group ``owners``): whoever holds the shard's lease reads it, and a new
holder takes over what the old one had read and not acknowledged
(XAUTOCLAIM). A request is acknowledged and deleted in the round trip
that sends its answer. Replies and stream chunks go to the asking
member's own stream ``P:r:M``, read by that member alone (XREAD).
Pub/Sub carries nothing: it would lose what is sent while nobody listens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._cluster_io import call, pipeline, writer
from ._wire import ReplyError, Script

if TYPE_CHECKING:
    from ._cluster_io import Dedicated
    from ._connection import RedisConnection

GROUP: Final = "owners"

# KEYS: reply stream, shard stream. ARGV: group, entry id ('' for none), then
# the answers' fields, three per answer -> the number of answers added.
ANSWER: Final = Script(
    """
for i = 3, #ARGV, 6 do
  redis.call('XADD', KEYS[1], '*', ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5])
end
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
end
return (#ARGV - 2) / 6
"""
)
SCRIPTS: Final = (ANSWER,)
Entry = tuple[str, dict[bytes, bytes]]
"""A stream entry: its id and fields."""


def _entries(raw: list[Any] | None) -> list[Entry]:
    if not raw:
        return []
    return [
        (
            entry_id.decode(),
            {fields[i]: fields[i + 1] for i in range(0, len(fields), 2)},
        )
        for entry_id, fields in raw
        if fields is not None  # deleted while pending
    ]


class Inbox:
    """The request and reply streams of one cluster (``prefix``)."""

    def __init__(self, conn: RedisConnection, prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix

    def shard_key(self, shard: int) -> str:
        return f"{self.prefix}:q:{shard}"

    def reply_key(self, member: str) -> str:
        return f"{self.prefix}:r:{member}"

    async def open_shard(self, shard: int) -> None:
        """Create the shard's stream and group if missing."""
        try:
            await call(
                self.conn,
                "XGROUP",
                "CREATE",
                self.shard_key(shard),
                GROUP,
                "0",
                "MKSTREAM",
            )
        except ReplyError as exc:
            if exc.code != "BUSYGROUP":
                raise

    async def request(self, shard: int, payload: bytes) -> None:
        """Queue a request on ``shard``'s stream."""
        # concurrent callers' requests share a round trip (the group writer)
        await (await writer(self.conn, SCRIPTS)).call(
            ("XADD", self.shard_key(shard), "*", "m", payload)
        )

    async def claim(self, shard: int, consumer: str, min_idle_ms: int) -> list[Entry]:
        """Entries of ``shard`` read by someone and not acknowledged for ``min_idle_ms``."""
        found: list[Entry] = []
        cursor = "0-0"
        while True:
            try:
                reply = await call(
                    self.conn,
                    "XAUTOCLAIM",
                    self.shard_key(shard),
                    GROUP,
                    consumer,
                    min_idle_ms,
                    cursor,
                    "COUNT",
                    256,
                )
            except ReplyError as exc:
                if exc.code == "NOGROUP":
                    await self.open_shard(shard)
                    return found
                raise
            found += _entries(reply[1])
            cursor = reply[0].decode()
            if cursor == "0-0":
                return found

    async def answer(
        self,
        member: str,
        items: list[tuple[str, str, bytes]],
        done: tuple[int, str] | None,
    ) -> None:
        """Send ``(request id, kind, data)`` items to ``member``; then ack ``done`` (shard, entry)."""
        key = self.reply_key(member)
        shard_key = key if done is None else self.shard_key(done[0])
        args: list[Any] = [GROUP, "" if done is None else done[1]]
        for rid, kind, data in items:
            args += ("i", rid, "k", kind, "d", data)
        command = ANSWER.command((key, shard_key), args)
        # one command per answer; concurrent answers share a round trip
        await (await writer(self.conn, SCRIPTS)).call(command)

    async def drop(self, shard: int, entry_id: str) -> None:
        """Acknowledge and delete a request without answering (a duplicate)."""
        key = self.shard_key(shard)
        await pipeline(
            self.conn, [("XACK", key, GROUP, entry_id), ("XDEL", key, entry_id)]
        )

    async def delete_replies(self, member: str) -> None:
        await call(self.conn, "DEL", self.reply_key(member))


class Reader:
    """Blocking reads on a connection of its own: requests of shards, replies of a member."""

    def __init__(self, inbox: Inbox, send: Dedicated) -> None:
        self._inbox = inbox
        self._send = send
        self._unread_trim = 0
        self._idle = False

    async def requests(
        self, shards: list[int], consumer: str, block_ms: int
    ) -> list[tuple[int, Entry]]:
        """New requests of ``shards`` (at most ``block_ms`` waiting)."""
        keys = [self._inbox.shard_key(s) for s in shards]
        try:
            reply = await self._send(
                "XREADGROUP",
                "GROUP",
                GROUP,
                consumer,
                "COUNT",
                128,
                "BLOCK",
                block_ms,
                "STREAMS",
                *keys,
                *([">"] * len(keys)),
            )
        except ReplyError as exc:
            if exc.code != "NOGROUP":
                raise
            for shard in shards:
                await self._inbox.open_shard(shard)
            return []
        by_key = {self._inbox.shard_key(s): s for s in shards}
        streams: list[tuple[bytes, list[Any]]] = reply or []
        return [
            (by_key[key.decode()], entry)
            for key, raw in streams
            for entry in _entries(raw)
        ]

    async def replies(self, member: str, after: str, block_ms: int) -> list[Entry]:
        """Reply entries of ``member`` after id ``after``.

        What was read before is trimmed every 256 entries, and when idle.
        """
        key = self._inbox.reply_key(member)
        if after != "0-0" and (self._unread_trim >= 256 or self._idle):
            await self._send("XTRIM", key, "MINID", after)
            self._unread_trim = 0
        reply = await self._send(
            "XREAD", "COUNT", 512, "BLOCK", block_ms, "STREAMS", key, after
        )
        found = _entries(reply[0][1]) if reply else []
        self._unread_trim += len(found)
        self._idle = not found
        return found


__all__ = ["GROUP", "SCRIPTS", "Entry", "Inbox", "Reader"]
