# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""Fenced appends to thread streams: the write side of ``RedisSaver``.

``ThreadStreams`` sends every saver command through one group writer per
client (see ``_pipeline``) and remembers each thread's newest entry, the
id its next append needs, from its own reads and writes. Remembered is not
trusted blindly:

- an append whose id is no longer above the newest entry fails in Redis
  (``Stale``); the entry is forgotten, read again, and the caller decides;
- each remembered entry carries the connection count of when it was seen;
  after a reconnect (a restarted Redis may have lost writes) it is read
  again before it is used, and the group writer refuses to send a command
  that relied on it (``Reconnected``).

A command on a thread still in the hash layout converts it first
(``_redis_legacy``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, final

from redis.exceptions import ResponseError

from stores._errors import CheckpointConflictError, FencedError

from ._connection import RedisConnection, Script, translate_errors
from ._entries import EMPTY_TOP, Top, parse_entries
from ._fence import FENCED_XADD, RAISE_FENCE, fence_key
from ._legacy import MIGRATE
from ._pipeline import GroupWriter, Reconnected
from ._slots import SlotMap

if TYPE_CHECKING:
    from redis.asyncio import Redis

Seen = tuple[int, int, str | None, int]
"""A thread's newest entry as remembered: ``Top`` plus the connection count then."""

# ARGV: ttl ms, "1" may create the stream, id, fields... -> the id, or nil.
XADD_TTL: Final = Script(
    """
local args = {KEYS[1]}
if ARGV[2] ~= '1' then args[#args + 1] = 'NOMKSTREAM' end
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.pcall('XADD', unpack(args))
if type(id) == 'table' and id.err then return id end
if id then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return id
"""
)

# ARGV: ttl ms, count -> the newest entries; refreshes the TTL.
LOAD_TTL: Final = Script(
    """
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
"""
)

# ARGV: the id the caller saw newest -> 1 deleted, 0 the stream moved on.
DROP_IF_TOP: Final = Script(
    """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
)

SCRIPTS: Final = (XADD_TTL, LOAD_TTL, DROP_IF_TOP, MIGRATE, FENCED_XADD, RAISE_FENCE)
FIRST_PAGE: Final = 32
"""Entries a load reads first: a short thread (or a save written whole) needs no more."""
MAX_TOPS: Final = 65_536
"""Threads whose newest entry a saver remembers (oldest forgotten first)."""


class Stale(Exception):
    """An XADD id was not above the stream's newest entry (or the stream is gone)."""


def escape_tag(thread_id: str) -> str:
    """``thread_id`` with ``%``, ``{`` and ``}`` percent-escaped: safe inside a hash tag."""
    return thread_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _conflict(
    thread_id: str, version: int, run_id: str, base: int
) -> CheckpointConflictError:
    return CheckpointConflictError(
        f"thread {thread_id!r} is at version {version}, but run {run_id!r} "
        f"started from version {base}; reload the thread and start the run again"
    )


@final
class ThreadStreams:
    """The streams of one saver's threads: sending, fenced appends, newest entries."""

    def __init__(self, conn: RedisConnection, ttl_ms: str) -> None:
        self._conn = conn
        self.slots: SlotMap | None = (
            None  # a Redis Cluster's routing (RedisSaver(cluster=True))
        )
        self.discover: Callable[[], Awaitable[SlotMap]] | None = None
        self._ttl_ms = ttl_ms
        # One group writer per client (one client per event loop): concurrent
        # calls of many threads share a pipeline (see _pipeline).
        self._writers: dict[int, tuple[Redis, GroupWriter]] = {}
        self._tops: dict[str, Seen] = {}

    def vouched(self, key: str) -> Seen | None:
        """The remembered newest entry of ``key``, unless a reconnect came since."""
        seen = self._tops.get(key)
        if seen is None or seen[3] != self.conn_for(key).connects:
            return None
        return seen

    def forget(self, key: str) -> None:
        """Drop what is remembered of ``key`` (it is read again when needed)."""
        self._tops.pop(key, None)

    async def ensure_slots(self) -> None:
        """Read a cluster's slot map once (a no-op unless clustered)."""
        if self.slots is None and self.discover is not None:
            with translate_errors(self._conn, "reading the Redis Cluster's slots"):
                self.slots = await self.discover()

    def conn_for(self, key: str | None) -> RedisConnection:
        """The connection of the node that holds ``key`` (the only one, unless clustered)."""
        if self.slots is None or key is None:
            return self._conn
        return self.slots.conn_for(key)

    async def writer(self, key: str | None = None) -> GroupWriter:
        conn = self.conn_for(key)
        client: Redis = await conn.client()
        entry = self._writers.get(id(client))
        if entry is None or entry[0] is not client:
            writer = GroupWriter(client, SCRIPTS, connects=lambda: conn.connects)
            entry = self._writers[id(client)] = (client, writer)
        return entry[1]

    async def send(self, what: str, key: str, command: tuple[Any, ...]) -> Any:
        """Send one command on ``key``; a thread in the old layout is converted first."""
        return (await self.send_seen(what, key, command))[0]

    async def send_seen(
        self, what: str, key: str, command: tuple[Any, ...], *, epoch: int | None = None
    ) -> tuple[Any, int]:
        """``send``, with the connection count the reply was read at.

        With ``epoch``, the command is refused unsent (Reconnected) if the
        connection was reopened since that count (see GroupWriter).
        """
        if self.slots is None and self.discover is not None:
            await self.ensure_slots()
        with translate_errors(self.conn_for(key), what):
            writer = await self.writer(key)
            for attempt in range(2):
                try:
                    return await writer.call_seen(command, epoch=epoch)
                except ResponseError as exc:
                    message = str(exc)
                    if "equal or smaller than the target stream top" in message:
                        raise Stale from None
                    if message.startswith("FENCED"):
                        raise FencedError(
                            f"{what} was refused: {message[7:]}"
                        ) from None
                    if attempt or not message.startswith("WRONGTYPE"):
                        raise
                    await writer.call(MIGRATE.command((key, key + ":rec"), ()))
            raise AssertionError("unreachable")  # pragma: no cover

    async def xadd(
        self,
        what: str,
        key: str,
        entry_id: str,
        fields: tuple[Any, ...],
        *,
        create: bool,
        epoch: int | None = None,
        fence: int | None = None,
    ) -> int:
        """Append one entry at ``entry_id``; the connection count it went out at.

        Raises Stale if the stream is past ``entry_id`` (or gone), and
        Reconnected if ``epoch`` is given and a reconnect came since. With
        ``fence`` (a lease epoch), FencedError unless the thread's fence holds it.
        """
        if fence is not None:
            command = FENCED_XADD.command(
                (key, fence_key(key)),
                (fence, self._ttl_ms, "1" if create else "0", entry_id, *fields),
            )
        elif self._ttl_ms != "0":
            command = XADD_TTL.command(
                (key,), (self._ttl_ms, "1" if create else "0", entry_id, *fields)
            )
        elif create:
            command = ("XADD", key, entry_id, *fields)
        else:
            command = ("XADD", key, "NOMKSTREAM", entry_id, *fields)
        reply, seen = await self.send_seen(what, key, command, epoch=epoch)
        if reply is None:
            raise Stale  # NOMKSTREAM: the thread is gone
        return seen

    async def raise_fence(self, key: str, epoch: int) -> int:
        """Set the thread's fence to ``epoch``; 0, or the higher epoch found there."""
        command = RAISE_FENCE.command((fence_key(key),), (epoch, self._ttl_ms))
        return int(await self.send("fencing a thread", key, command))

    def remember(
        self, key: str, entry_id: str, seen: int, run_id: str | None = None
    ) -> None:
        version, _, seq = entry_id.partition("-")
        self.set_top(key, (int(version), int(seq), run_id), seen)

    def set_top(self, key: str, top: Top, seen: int) -> None:
        tops = self._tops
        tops.pop(key, None)  # re-inserted last: the dict stays oldest-first
        if len(tops) >= MAX_TOPS:
            del tops[next(iter(tops))]
        tops[key] = (*top, seen)

    async def top(self, key: str) -> Seen:
        """The newest entry of ``key`` as vouched for, read again if it is not."""
        vouched = self.vouched(key)
        if vouched is not None:
            return vouched
        reply, seen = await self.send_seen(
            "reading a thread", key, ("XREVRANGE", key, "+", "-", "COUNT", 1)
        )
        entries = parse_entries(reply)
        if not entries:
            top = EMPTY_TOP
        else:
            version, seq, fields = entries[0]
            pending = fields.get(b"r") if seq and b"x" not in fields else None
            top = (version, seq, pending.decode() if pending else None)
        self.set_top(key, top, seen)
        return (*top, seen)

    async def append(
        self,
        what: str,
        thread_id: str,
        key: str,
        fields: tuple[Any, ...],
        *,
        run_id: str,
        base: int | None,
    ) -> None:
        """Append a run entry: a header (``base`` set) or an entry of pending run ``run_id``.

        Raises:
            CheckpointConflictError: if the thread is not at ``base``, or
                ``run_id`` is not its pending run.
        """
        for _ in range(4):  # each retry follows a write by someone else, or a reconnect
            # the id below leans on what was read at connection count ``epoch``
            version, seq, pending, epoch = await self.top(key)
            if base is not None and version != base:
                raise _conflict(thread_id, version, run_id, base)
            if base is None and pending != run_id:
                raise CheckpointConflictError(
                    f"run {run_id!r} is not the pending run of thread {thread_id!r} "
                    f"(pending: {pending!r}); another run replaced or committed it: "
                    "stop this run and reload the thread"
                )
            entry_id = f"{version}-{seq + 1}"
            try:
                seen = await self.xadd(
                    what, key, entry_id, fields, create=version == 0, epoch=epoch
                )
            except (Stale, Reconnected):
                self.forget(key)
                continue
            self.remember(key, entry_id, seen, run_id)
            return
        raise CheckpointConflictError(
            f"thread {thread_id!r} kept changing while {what}; reload the thread and retry"
        )
