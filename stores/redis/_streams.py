"""Fenced appends to thread streams: the write side of ``RedisSaver``.

``ThreadStreams`` sends every saver command through one group writer per
client (see ``_pipeline``) and remembers each thread's newest entry, the
id its next append needs, from its own reads and writes. Remembered is not
trusted blindly:

- an append whose id is no longer above the newest entry fails in Redis
  (``Stale``); the entry is forgotten, read again, and the caller decides;
- each remembered entry carries the server epoch of when it was seen;
  after a reconnect that moves it (a break, or a restarted Redis that may
  have lost writes; not one more pooled connection) it is read
  again before it is used, and the send path refuses to send a command
  that relied on it (``Reconnected``).

With the newest entry it remembers the thread's latest checkpoint, save
included, when it loaded or wrote that checkpoint itself: a commit that
extends it stores only the tail (see ``_appends``). Remembered saves are
bounded in bytes as the entries are in number (oldest forgotten first).

On a Redis Cluster (``slots``) each command goes to the master of its
key's slot; the local path (one Redis) pays one attribute check for it.
"""

from __future__ import annotations

from typing import Any, Final, final

import msgspec

from stores._checkpoint import Checkpoint
from stores._errors import CheckpointConflictError, FencedError, StoreUnavailableError

from ._connection import RedisConnection, translate_errors
from ._entries import EMPTY_TOP, Top, parse_entries
from ._fence import FENCED_XADD, RAISE_FENCE, fence_key
from ._pipeline import GroupWriter, Reconnected
from ._slots import SlotMap, command_key
from ._snapshots import SCRIPTS as SNAPSHOT_SCRIPTS, SNAPSHOT_XADD, snapshot_key
from ._wire import ReplyError, Script


class Seen(msgspec.Struct, frozen=True):
    """A thread's newest entry as remembered: a ``Top``, when it was seen, and the latest checkpoint."""

    version: int
    seq: int
    pending: str | None
    epoch: int
    """The server epoch when it was seen (see ``RedisConnection.epoch``)."""
    latest: Checkpoint | None = None
    """The checkpoint at ``version-0``, save included, if this saver loaded or wrote it."""
    chain: int = 0
    """Appended tails since ``latest``'s save was last stored whole (or snapshotted)."""


# KEYS: stream, snapshot. ARGV: ttl ms, "1" may create the stream, id,
# fields... -> the id, or nil. The TTL goes on both keys.
XADD_TTL: Final = Script(
    """
local args = {KEYS[1]}
if ARGV[2] ~= '1' then args[#args + 1] = 'NOMKSTREAM' end
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.pcall('XADD', unpack(args))
if type(id) == 'table' and id.err then return id end
if id then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return id
"""
)

# KEYS: stream, snapshot. ARGV: ttl ms, count -> the newest entries; refreshes the TTL.
LOAD_TTL: Final = Script(
    """
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
"""
)

# KEYS: stream, snapshot. ARGV: the id the caller saw newest -> 1 deleted,
# 0 the stream moved on.
DROP_IF_TOP: Final = Script(
    """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][1] == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""
)

SCRIPTS: Final = (
    XADD_TTL,
    LOAD_TTL,
    DROP_IF_TOP,
    FENCED_XADD,
    RAISE_FENCE,
    *SNAPSHOT_SCRIPTS,
)
FIRST_PAGE: Final = 32
"""Entries a load reads first: a short thread (or a save written whole) needs no more."""
MAX_TOPS: Final = 65_536
"""Threads whose newest entry a saver remembers (oldest forgotten first)."""
MAX_SAVE_BYTES: Final = 256 * 1024 * 1024
"""Bytes of latest saves a saver remembers at most (oldest threads forgotten first)."""


class Stale(Exception):
    """An XADD id was not above the stream's newest entry (or the stream is gone)."""


def escape_tag(thread_id: str) -> str:
    """``thread_id`` with ``%``, ``{`` and ``}`` percent-escaped: safe inside a hash tag."""
    return thread_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _refused(what: str, exc: ReplyError) -> Exception:
    # What a refused saver command means to the caller.
    message = str(exc)
    if "equal or smaller than the target stream top" in message:
        return Stale()
    if exc.code == "FENCED":
        return FencedError(f"{what} was refused: {message[7:]}")
    if exc.code == "MOVED":
        return StoreUnavailableError(
            f"{what} failed: Redis answered {message!r}: this Redis is a Redis "
            "Cluster node; use RedisSaver(url, cluster=True)"
        )
    return exc


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

    def __init__(
        self,
        conn: RedisConnection,
        ttl_ms: str,
        slots: SlotMap | None = None,
        *,
        max_save_bytes: int = MAX_SAVE_BYTES,
    ) -> None:
        self._conn = conn
        self.slots = slots
        """A Redis Cluster's routing (``RedisSaver(cluster=True)``), else None."""
        self._ttl_ms = ttl_ms
        self._max_save_bytes = max_save_bytes
        self._tops: dict[str, Seen] = {}
        self._save_bytes = 0  # of the saves in _tops

    def vouched(self, key: str) -> Seen | None:
        """The remembered newest entry of ``key``, unless a reconnect came since."""
        seen = self._tops.get(key)
        if seen is None:
            return None
        conn = self._conn if self.slots is None else self.slots.conn_for(key)
        return seen if seen.epoch == conn.epoch else None

    def forget(self, key: str) -> None:
        """Drop what is remembered of ``key`` (it is read again when needed)."""
        old = self._tops.pop(key, None)
        if old is not None and old.latest is not None:
            self._save_bytes -= len(old.latest.save)

    async def writer(self, conn: RedisConnection | None = None) -> GroupWriter:
        """The group writer of this loop's client (of ``conn``, default the saver's):
        concurrent calls of many threads share a pipeline (see ``_pipeline``)."""
        return GroupWriter.of(await (conn or self._conn).client(), SCRIPTS)

    async def send(self, what: str, command: tuple[Any, ...]) -> Any:
        """Send one command through the group writer; its reply."""
        return (await self.send_seen(what, command))[0]

    async def send_seen(
        self, what: str, command: tuple[Any, ...], *, epoch: int | None = None
    ) -> tuple[Any, int]:
        """``send``, with the server epoch the reply was read at.

        With ``epoch``, the command is refused unsent (Reconnected) if the
        connection was reopened since that count (see ``_pipeline``).

        Raises:
            Stale: an XADD id was not above the stream's newest entry.
            FencedError: a fenced commit found a newer lease epoch.
            StoreUnavailableError: Redis failed or refused the command.
        """
        if self.slots is not None:
            return await self._routed(what, command, epoch)
        with translate_errors(self._conn, what):
            writer = await self.writer()
            try:
                return await writer.call_seen(command, epoch=epoch)
            except ReplyError as exc:
                raise _refused(what, exc) from None

    async def _routed(
        self, what: str, command: tuple[Any, ...], epoch: int | None
    ) -> tuple[Any, int]:
        # On a Redis Cluster: to the master of the command's key. MOVED (a
        # resharded slot; the command did not run) re-reads the map and sends
        # once more; ASK (a slot migrating now) is an error to retry.
        slots = self.slots
        assert slots is not None
        key = command_key(command)
        for attempt in range(2):
            if not slots.ready or attempt:
                with translate_errors(self._conn, "reading the Redis Cluster's slots"):
                    await slots.refresh()
                self._tops.clear()  # counts of other nodes vouch for nothing here
            conn = slots.conn_for(key)
            with translate_errors(conn, what):
                writer = await self.writer(conn)
                try:
                    return await writer.call_seen(command, epoch=epoch)
                except ReplyError as exc:
                    if exc.code == "ASK":
                        raise StoreUnavailableError(
                            f"{what} failed: {conn.location} answered {exc}: the "
                            "slot is being migrated; retry once the resharding is done"
                        ) from None
                    if exc.code != "MOVED" or attempt:
                        raise _refused(what, exc) from None
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
        snapshot: tuple[str, bytes] | None = None,
    ) -> int:
        """Append one entry at ``entry_id``; the server epoch it went out at.

        Raises Stale if the stream is past ``entry_id`` (or gone), and
        Reconnected if ``epoch`` is given and a reconnect came since. With
        ``fence`` (a lease epoch), FencedError unless the thread's fence holds it.
        With ``snapshot`` (checkpoint id, whole save), the same script writes
        the thread's snapshot (see ``_snapshots``).
        """
        if snapshot is not None:
            command = SNAPSHOT_XADD.command(
                (key, snapshot_key(key), fence_key(key)),
                (
                    "" if fence is None else fence,
                    self._ttl_ms,
                    "1" if create else "0",
                    *snapshot,
                    entry_id,
                    *fields,
                ),
            )
        elif fence is not None:
            command = FENCED_XADD.command(
                (key, fence_key(key), snapshot_key(key)),
                (fence, self._ttl_ms, "1" if create else "0", entry_id, *fields),
            )
        elif self._ttl_ms != "0":
            command = XADD_TTL.command(
                (key, snapshot_key(key)),
                (self._ttl_ms, "1" if create else "0", entry_id, *fields),
            )
        elif create:
            command = ("XADD", key, entry_id, *fields)
        else:
            command = ("XADD", key, "NOMKSTREAM", entry_id, *fields)
        reply, seen = await self.send_seen(what, command, epoch=epoch)
        if reply is None:
            raise Stale  # NOMKSTREAM: the thread is gone
        return seen

    async def raise_fence(self, key: str, epoch: int) -> int:
        """Set the thread's fence to ``epoch``; 0, or the higher epoch found there."""
        command = RAISE_FENCE.command((fence_key(key),), (epoch, self._ttl_ms))
        return int(await self.send("fencing a thread", command))

    def remember(
        self,
        key: str,
        entry_id: str,
        seen: int,
        run_id: str | None = None,
        latest: Checkpoint | None = None,
        chain: int = 0,
    ) -> None:
        """Remember ``entry_id`` as the newest entry of ``key``, written at ``seen``."""
        version, _, seq = entry_id.partition("-")
        self.set_top(key, Top(int(version), int(seq), run_id, chain), seen, latest)

    def set_top(
        self, key: str, top: Top, seen: int, latest: Checkpoint | None = None
    ) -> None:
        """Remember ``top`` (and ``latest``, the checkpoint at its version) for ``key``."""
        self.forget(key)  # re-inserted last: the dict stays oldest-first
        tops = self._tops
        size = 0 if latest is None else len(latest.save)
        if size > self._max_save_bytes:
            latest, size = None, 0
        while tops and (
            len(tops) >= MAX_TOPS or self._save_bytes + size > self._max_save_bytes
        ):
            self.forget(next(iter(tops)))
        self._save_bytes += size
        tops[key] = Seen(top.version, top.seq, top.pending, seen, latest, top.chain)

    async def top(self, key: str) -> Seen:
        """The newest entry of ``key`` as vouched for, read again if it is not."""
        vouched = self.vouched(key)
        if vouched is not None:
            return vouched
        reply, seen = await self.send_seen(
            "reading a thread", ("XREVRANGE", key, "+", "-", "COUNT", 1)
        )
        entries = parse_entries(reply)
        if not entries:
            top = EMPTY_TOP
        else:
            newest = entries[0]
            fields = newest.fields
            pending = fields.get(b"r") if newest.seq and b"x" not in fields else None
            top = Top(newest.version, newest.seq, pending.decode() if pending else None)
        self.set_top(key, top, seen)
        return Seen(top.version, top.seq, top.pending, seen)

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
            # the id below leans on what was read at server epoch ``top.epoch``
            top = await self.top(key)
            if base is not None and top.version != base:
                raise _conflict(thread_id, top.version, run_id, base)
            if base is None and top.pending != run_id:
                raise CheckpointConflictError(
                    f"run {run_id!r} is not the pending run of thread {thread_id!r} "
                    f"(pending: {top.pending!r}); another run replaced or committed it: "
                    "stop this run and reload the thread"
                )
            entry_id = f"{top.version}-{top.seq + 1}"
            try:
                seen = await self.xadd(
                    what,
                    key,
                    entry_id,
                    fields,
                    create=top.version == 0,
                    epoch=top.epoch,
                )
            except (Stale, Reconnected):
                self.forget(key)
                continue
            self.remember(key, entry_id, seen, run_id, top.latest, top.chain)
            return
        raise CheckpointConflictError(
            f"thread {thread_id!r} kept changing while {what}; reload the thread and retry"
        )
