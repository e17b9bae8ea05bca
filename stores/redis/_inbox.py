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
    from collections.abc import Sequence

    from ._cluster_io import Dedicated
    from ._connection import RedisConnection

GROUP: Final = "owners"

# KEYS: reply stream, shard stream. ARGV: group, entry id ('' for none), then
# the answers' fields, three per answer -> the number of answers added. The
# request is acknowledged and deleted by one XACKDEL (Redis 8.2), or by XACK
# and XDEL on an older Redis (pcall: an unknown command is an error reply).
ANSWER: Final = Script(
    """
for i = 3, #ARGV, 6 do
  redis.call('XADD', KEYS[1], '*', ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5])
end
if ARGV[2] ~= '' then
  local done = redis.pcall('XACKDEL', KEYS[2], ARGV[1], 'IDS', 1, ARGV[2])
  if type(done) == 'table' and done.err then
    redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[2], ARGV[2])
  end
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

    async def claim(
        self, min_idle_ms: dict[int, int], consumer: str
    ) -> list[tuple[int, Entry]]:
        """Entries of each shard read by someone and not acknowledged for its ``min_idle_ms``.

        Every shard's XAUTOCLAIM goes out in one round trip (and again for
        the shards with more to claim); a shard without its group gets one.
        """
        found: list[tuple[int, Entry]] = []
        cursors = dict.fromkeys(min_idle_ms, "0-0")
        while cursors:
            shards = list(cursors)
            replies = await pipeline(
                self.conn,
                [
                    (
                        "XAUTOCLAIM",
                        self.shard_key(s),
                        GROUP,
                        consumer,
                        min_idle_ms[s],
                        cursors[s],
                        "COUNT",
                        256,
                    )
                    for s in shards
                ],
            )
            cursors = {}
            for shard, reply in zip(shards, replies, strict=True):
                if isinstance(reply, ReplyError):
                    if reply.code != "NOGROUP":
                        raise reply
                    await self.open_shard(shard)
                    continue
                found += [(shard, entry) for entry in _entries(reply[1])]
                if reply[0] != b"0-0":
                    cursors[shard] = reply[0].decode()
        return found

    async def answer(
        self,
        member: str,
        items: list[tuple[str, str, bytes]],
        done: tuple[int, str] | None,
    ) -> None:
        """Send ``(request id, kind, data)`` items to ``member``; then ack ``done`` (shard, entry)."""
        command = self._answer(member, items, done)
        # one command per answer; concurrent answers share a round trip
        await (await writer(self.conn, SCRIPTS)).call(command)

    async def answer_many(
        self,
        answers: Sequence[
            tuple[str, list[tuple[str, str, bytes]], tuple[int, str] | None]
        ],
    ) -> None:
        """``answer`` each of ``answers`` (member, items, done), all in one round trip.

        Raises:
            ReplyError: the first answer Redis refused (the others went out).
        """
        commands = [self._answer(*answer) for answer in answers]
        for reply in await pipeline(self.conn, commands, SCRIPTS):
            if isinstance(reply, ReplyError):
                raise reply

    def _answer(
        self,
        member: str,
        items: list[tuple[str, str, bytes]],
        done: tuple[int, str] | None,
    ) -> tuple[Any, ...]:
        key = self.reply_key(member)
        shard_key = key if done is None else self.shard_key(done[0])
        args: list[Any] = [GROUP, "" if done is None else done[1]]
        for rid, kind, data in items:
            args += ("i", rid, "k", kind, "d", data)
        return ANSWER.command((key, shard_key), args)

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
                1024,
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
        read = ("XREAD", "COUNT", 1024, "BLOCK", block_ms, "STREAMS", key, after)
        if after != "0-0" and (self._unread_trim >= 256 or self._idle):
            # the trim rides in the read's round trip
            reply = (await self._send.many([("XTRIM", key, "MINID", after), read]))[1]
            self._unread_trim = 0
        else:
            reply = await self._send(*read)
        found = _entries(reply[0][1]) if reply else []
        self._unread_trim += len(found)
        self._idle = not found
        return found


__all__ = ["GROUP", "SCRIPTS", "Entry", "Inbox", "Reader"]
