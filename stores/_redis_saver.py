# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""RedisSaver: the checkpointer contract on Redis, one stream per thread.

A thread is one Redis stream, ``P:{T}`` for prefix ``P`` and thread ``T``
(``{T}`` is the Redis Cluster hash tag; thread ids are percent-escaped so
a brace cannot move it). Entry ids order everything the thread wrote:
checkpoint ``v`` is entry ``v-0``; a run on top of version ``v`` writes its
header and task records at ``v-1``, ``v-2``, ... (fields: ``_redis_log``).

Every write is **one XADD with an explicit id**, and that is the fence:
Redis refuses an id not above the stream's newest, so

- a commit of version ``v+1`` (``(v+1)-0``) fails once anyone committed
  ``v+1`` or later;
- a task record goes right after the entry its run wrote last, so it fails
  once another run started, the run was discarded, or a commit came.

No Lua and no read before a write: a commit is one command in Redis (the
old layout ran three). The saver remembers each thread's newest entry
from its own loads and writes; when that is stale the XADD fails, the
saver reads the newest entry (``XREVRANGE ... COUNT 1``) and decides.

A commit stores the checkpoint without its ``save`` plus either the whole
save or, when the save is the previous one with elements appended (a
conversation), only that tail: a turn costs Redis what it adds. A load is
one XREVRANGE of the newest entries, rebuilding the save from the last
whole one; a long chain takes one more read. History keeps every
checkpoint (``alist``/``aget`` scan the stream).

A TTL, when set, rides on every write and load (a short script: XADD or
XREVRANGE plus PEXPIRE). Threads written by the earlier hash layout are
converted in place on first touch (``_redis_legacy``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, Self, final

import msgspec
from redis.exceptions import ResponseError

from ._appends import split_appended
from ._checkpoint import (
    Checkpoint,
    PendingRun,
    TaskRecord,
    ThreadState,
    check_begin,
    check_commit,
    check_thread_id,
    decode_checkpoint,
    encode_record,
)
from ._errors import CheckpointConflictError, StoreUnavailableError
from ._keys import parse_ttl_config
from ._redis_batch import GroupWriter, Reconnected
from ._redis_conn import RedisConnection, Script, translate_errors
from ._redis_legacy import MIGRATE
from ._redis_log import (
    EMPTY_TOP,
    Top,
    checkpoints_of,
    parse_entries,
    run_entry,
    state_of,
)

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis

# ARGV: ttl ms, "1" may create the stream, id, fields... -> the id, or nil.
_XADD_TTL: Final = Script(
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
_LOAD_TTL: Final = Script(
    """
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
"""
)

# ARGV: the id the caller saw newest -> 1 deleted, 0 the stream moved on.
_DROP_IF_TOP: Final = Script(
    """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
)

_SCRIPTS: Final = (_XADD_TTL, _LOAD_TTL, _DROP_IF_TOP, MIGRATE)
_FIRST_PAGE: Final = 32
"""Entries a load reads first: a short thread (or a save written whole) needs no more."""
_MAX_TOPS: Final = 65_536
"""Threads whose newest entry a saver remembers (oldest forgotten first)."""


class _Stale(Exception):
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
class RedisSaver:
    """A checkpointer on Redis: every write one fenced XADD, one round trip per call.

    ``url``: a ``redis://`` url; default ``REDIS_URL``, else the embedded
    Redis. ``ttl``: minutes (or ``{"default_ttl": m, "refresh_on_read":
    bool}``) applied to the thread's key by each write (and by ``aload``
    unless ``refresh_on_read`` is False). ``prefix`` starts every key.
    Methods wait on Redis; put deadlines around them (``anyio.fail_after``).
    Cancellation mid-call leaves the old or the new state, never a mix.
    Redis failures raise StoreUnavailableError.
    """

    def __init__(
        self, url: str | None = None, *, ttl: object = None, prefix: str = "ckpt"
    ) -> None:
        """Describe the saver; nothing connects until the first call.

        Raises:
            ValueError: for a malformed ``ttl`` or a ``prefix`` with braces.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(
                f"prefix must be a non-empty string without braces, got {prefix!r}"
            )
        config = parse_ttl_config(ttl)
        minutes = config.default_ttl
        self._ttl_ms = str(round(minutes * 60_000)) if minutes is not None else "0"
        self._load_ttl_ms = self._ttl_ms if config.refresh_on_read else "0"
        self._prefix = prefix
        self._conn = RedisConnection(url, name="RedisSaver")
        # One group writer per client (one client per event loop): concurrent
        # calls of many threads share a pipeline (see _redis_batch).
        self._writers: dict[int, tuple[Redis, GroupWriter]] = {}
        # The newest entry of each thread as this saver last saw it (the id
        # its next append needs), with the connection count of then. Stale
        # is safe: a newer stream makes the XADD fail and we re-read. A
        # reconnect since (a restarted server may have lost writes) means
        # it is read again before it is trusted.
        self._tops: dict[str, tuple[int, int, str | None, int]] = {}

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    @property
    def round_trips(self) -> int:
        """Requests sent to Redis so far (a pipeline counts once)."""
        return self._conn.round_trips

    def thread_key(self, thread_id: str) -> str:
        """The key of a thread's stream."""
        return f"{self._prefix}:{{{escape_tag(check_thread_id(thread_id))}}}"

    async def __aenter__(self) -> Self:
        """Connect now (starting the embedded Redis if needed) and load the scripts.

        The first call then pays no set-up. A Redis that cannot be reached
        is not an error here: each call reports it (StoreUnavailableError),
        and works once Redis is back.
        """
        with (
            contextlib.suppress(StoreUnavailableError),
            translate_errors(self._conn, "connecting"),
        ):
            await (await self._writer()).connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection; the saver cannot be used afterwards."""
        await self._conn.aclose()

    # -- sending ---------------------------------------------------------

    async def _writer(self) -> GroupWriter:
        client: Redis = await self._conn.client()
        entry = self._writers.get(id(client))
        if entry is None or entry[0] is not client:
            writer = GroupWriter(client, _SCRIPTS, connects=lambda: self._conn.connects)
            entry = self._writers[id(client)] = (client, writer)
        return entry[1]

    async def _send(self, what: str, key: str, command: tuple[Any, ...]) -> Any:
        """Send one command on ``key``; a thread in the old layout is converted first."""
        return (await self._send_seen(what, key, command))[0]

    async def _send_seen(
        self, what: str, key: str, command: tuple[Any, ...], *, epoch: int | None = None
    ) -> tuple[Any, int]:
        """``_send``, with the connection count the reply was read at (see GroupWriter)."""
        with translate_errors(self._conn, what):
            writer = await self._writer()
            for attempt in range(2):
                try:
                    return await writer.call_seen(command, epoch=epoch)
                except ResponseError as exc:
                    message = str(exc)
                    if "equal or smaller than the target stream top" in message:
                        raise _Stale from None
                    if attempt or not message.startswith("WRONGTYPE"):
                        raise
                    await writer.call(MIGRATE.command((key, key + ":rec"), ()))
            raise AssertionError("unreachable")  # pragma: no cover

    async def _xadd(
        self,
        what: str,
        key: str,
        entry_id: str,
        fields: tuple[Any, ...],
        *,
        create: bool,
        epoch: int | None = None,
    ) -> int:
        """Append one entry at ``entry_id``; the connection count it went out at.

        Raises _Stale if the stream is past ``entry_id`` (or gone), and
        Reconnected if ``epoch`` is given and a reconnect came since.
        """
        if self._ttl_ms != "0":
            command = _XADD_TTL.command(
                (key,), (self._ttl_ms, "1" if create else "0", entry_id, *fields)
            )
        elif create:
            command = ("XADD", key, entry_id, *fields)
        else:
            command = ("XADD", key, "NOMKSTREAM", entry_id, *fields)
        reply, seen = await self._send_seen(what, key, command, epoch=epoch)
        if reply is None:
            raise _Stale  # NOMKSTREAM: the thread is gone
        return seen

    def _remember(
        self, key: str, entry_id: str, seen: int, run_id: str | None = None
    ) -> None:
        version, _, seq = entry_id.partition("-")
        self._set_top(key, (int(version), int(seq), run_id), seen)

    def _set_top(self, key: str, top: Top, seen: int) -> None:
        tops = self._tops
        tops.pop(key, None)  # re-inserted last: the dict stays oldest-first
        if len(tops) >= _MAX_TOPS:
            del tops[next(iter(tops))]
        tops[key] = (*top, seen)

    def _known_top(self, key: str) -> Top | None:
        known = self._tops.get(key)
        if known is None or known[3] != self._conn.connects:
            return None
        return known[:3]

    async def _top(self, key: str) -> Top:
        top = self._known_top(key)
        if top is None:
            reply, seen = await self._send_seen(
                "reading a thread", key, ("XREVRANGE", key, "+", "-", "COUNT", 1)
            )
            entries = parse_entries(reply)
            if not entries:
                top = EMPTY_TOP
            else:
                version, seq, fields = entries[0]
                pending = fields.get(b"r") if seq and b"x" not in fields else None
                top = (version, seq, pending.decode() if pending else None)
            self._set_top(key, top, seen)
        return top

    async def _append(
        self,
        what: str,
        thread_id: str,
        fields: tuple[Any, ...],
        *,
        run_id: str,
        base: int | None,
    ) -> None:
        """Append a run entry: a header (``base`` set) or an entry of pending run ``run_id``."""
        key = self.thread_key(thread_id)
        for _ in range(4):  # each retry follows a write by someone else
            version, seq, pending = await self._top(key)
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
                seen = await self._xadd(
                    what, key, entry_id, fields, create=version == 0
                )
            except _Stale:
                self._tops.pop(key, None)
                continue
            self._remember(key, entry_id, seen, run_id)
            return
        raise CheckpointConflictError(
            f"thread {thread_id!r} kept changing while {what}; reload the thread and retry"
        )

    # -- the contract ------------------------------------------------------

    async def aload(self, thread_id: str) -> ThreadState:
        """Latest checkpoint, pending run and its records: one XREVRANGE.

        A save whose chain of appended tails reaches past the newest
        entries takes one more read (the rest of the stream).

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
            StoreUnavailableError: if Redis cannot be reached.
        """
        key = self.thread_key(thread_id)
        if self._load_ttl_ms != "0":
            command = _LOAD_TTL.command((key,), (self._load_ttl_ms, _FIRST_PAGE))
        else:
            command = ("XREVRANGE", key, "+", "-", "COUNT", _FIRST_PAGE)
        reply, seen = await self._send_seen("loading a thread", key, command)
        entries = parse_entries(reply)
        found = state_of(thread_id, entries, exhausted=len(entries) < _FIRST_PAGE)
        if found is None:  # a long chain: read the rest in one go
            last = entries[-1]
            rest, seen_rest = await self._send_seen(
                "loading a thread",
                key,
                ("XREVRANGE", key, f"({last[0]}-{last[1]}", "-"),
            )
            entries += parse_entries(rest)
            found = state_of(thread_id, entries, exhausted=True)
            assert found is not None  # exhausted: a state or an error
            if seen_rest != seen:  # read across a reconnect: vouch for nothing
                self._tops.pop(key, None)
                return found[0]
        state, top = found
        self._set_top(key, top, seen)
        return state

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        """Record ``run`` as the pending run, replacing any older one and its records.

        Raises:
            CheckpointConflictError: if the thread is no longer at ``run.base_version``.
        """
        fields = run_entry(run.run_id, "run", encode_record(run))
        await self._append(
            "starting a run",
            thread_id,
            fields,
            run_id=run.run_id,
            base=run.base_version,
        )

    async def arecord(
        self,
        thread_id: str,
        run_id: str,
        record: TaskRecord,
        *,
        begin: PendingRun | None = None,
    ) -> None:
        """Append ``record`` to the pending run ``run_id``, durably, in one round trip.

        With ``begin`` (whose ``run_id`` must be ``run_id``), the record
        starts that run: header and record are one entry.

        Raises:
            CheckpointConflictError: if ``run_id`` is not the pending run, or
                (with ``begin``) the thread moved past ``begin.base_version``.
        """
        check_begin(run_id, begin)
        data = encode_record(record)
        if begin is None:
            fields = run_entry(run_id, "t", data)
            base = None
        else:
            fields = run_entry(run_id, "run", encode_record(begin), "t", data)
            base = begin.base_version
        await self._append(
            "recording a task", thread_id, fields, run_id=run_id, base=base
        )

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
        clear_run: bool = True,
        previous_save: bytes | None = None,
    ) -> None:
        """Store ``checkpoint`` as the latest (superseding any pending run): one XADD.

        ``previous_save``: the save of the checkpoint ``checkpoint.parent_id``
        names; when the new save extends it, only the tail is stored.
        ``clear_run`` is not needed here (a commit supersedes the run's
        entries by its id). Idempotent for a retried call: committing the
        checkpoint that is already the latest (same id and version) succeeds.
        Checkpoint ids are not checked for uniqueness (that would cost a
        read per commit; the runtime makes them unique).

        Raises:
            CheckpointConflictError: (writing nothing) if the latest version
                is not ``expected_version``.
            ValueError: if ``checkpoint`` is for another thread or its
                version is not ``expected_version + 1``.
        """
        del clear_run
        check_commit(thread_id, checkpoint, expected_version)
        key = self.thread_key(thread_id)
        head = ("c", encode_record(msgspec.structs.replace(checkpoint, save=b"")))
        entry_id = f"{checkpoint.version}-0"
        while True:
            known = self._tops.get(key)
            tail = None
            if (
                known is None
                or known[3] != self._conn.connects
                or known[0] != expected_version
            ):
                # Not seen at this version since the last (re)connect: read the
                # newest entry, so that a commit from a version the thread never
                # reached (say, after a restarted Redis lost writes) is refused;
                # and store the save whole, since its base was not vouched for.
                self._tops.pop(key, None)
                if (version := (await self._top(key))[0]) != expected_version:
                    if await self._already_committed(key, checkpoint):
                        return
                    raise self._commit_conflict(thread_id, version, expected_version)
            elif previous_save is not None and checkpoint.parent_id is not None:
                tail = split_appended(previous_save, checkpoint.save)
            body = (
                ("s", checkpoint.save) if tail is None else ("d", tail[1], "n", tail[0])
            )
            try:
                seen = await self._xadd(
                    "committing a checkpoint",
                    key,
                    entry_id,
                    head + body,
                    create=expected_version == 0,
                    # a tail leans on what was read: not across a reconnect
                    epoch=known[3] if tail is not None and known is not None else None,
                )
            except Reconnected:
                self._tops.pop(key, None)  # read again, and store the save whole
                continue
            except _Stale:
                self._tops.pop(key, None)
                if await self._already_committed(key, checkpoint):
                    return
                version = (await self._top(key))[0]
                raise self._commit_conflict(
                    thread_id, version, expected_version
                ) from None
            self._remember(key, entry_id, seen)
            return

    @staticmethod
    def _commit_conflict(
        thread_id: str, version: int, expected: int
    ) -> CheckpointConflictError:
        return CheckpointConflictError(
            f"thread {thread_id!r} is at version {version}, not {expected}: a newer "
            "writer committed first; reload the thread and retry the run"
        )

    async def _already_committed(self, key: str, checkpoint: Checkpoint) -> bool:
        # A retried commit (its reply was lost) finds itself the newest checkpoint.
        version = checkpoint.version
        if (await self._top(key))[0] != version:
            return False
        found = parse_entries(
            await self._send(
                "committing a checkpoint",
                key,
                ("XRANGE", key, f"{version}-0", f"{version}-0"),
            )
        )
        return bool(found) and (
            decode_checkpoint(found[0][2][b"c"]).checkpoint_id
            == checkpoint.checkpoint_id
        )

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        """Drop the pending run and its records if ``run_id`` is still pending.

        A thread that holds nothing else is deleted; otherwise a marker
        entry ends the run (fenced like a record).
        """
        key = self.thread_key(thread_id)
        for _ in range(4):
            state = await self.aload(thread_id)
            if state.run is None or state.run.run_id != run_id:
                return
            if state.latest is not None:
                with contextlib.suppress(
                    CheckpointConflictError
                ):  # moved on: not pending
                    await self._append(
                        "discarding a run",
                        thread_id,
                        run_entry(run_id, "x", "1"),
                        run_id=run_id,
                        base=None,
                    )
                return
            version, seq, _ = await self._top(key)
            dropped = await self._send(
                "discarding a run",
                key,
                _DROP_IF_TOP.command((key,), (f"{version}-{seq}",)),
            )
            if dropped:
                self._tops.pop(key, None)
                return

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        """Checkpoints newest first; ``before`` keeps versions below it.

        One round trip for the whole history; with a ``limit``, a read of
        about that many entries (more only where task records sit between
        checkpoints).

        Raises:
            ValueError: for a negative or non-int ``limit``.
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        if limit is not None and (type(limit) is not int or limit < 0):  # user input
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        if limit == 0:
            return []
        key = self.thread_key(thread_id)
        end = "+" if before is None else f"({int(before)}-0"
        found: list[Checkpoint] = []
        count = None if limit is None else limit + 8
        while True:
            page = () if count is None else ("COUNT", count)
            entries = parse_entries(
                await self._send(
                    "listing checkpoints", key, ("XREVRANGE", key, end, "-", *page)
                )
            )
            found += checkpoints_of(entries)
            if limit is None or count is None or len(entries) < count:
                return found if limit is None else found[:limit]
            if len(found) >= limit:
                return found[:limit]
            end, count = f"({entries[-1][0]}-{entries[-1][1]}", count * 4

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id (without its save), or None. One round trip over the history.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        key = self.thread_key(thread_id)
        reply = await self._send(
            "reading a checkpoint", key, ("XREVRANGE", key, "+", "-")
        )
        needle = checkpoint_id.encode()
        candidates = [
            e for e in parse_entries(reply) if e[1] == 0 and needle in e[2][b"c"]
        ]
        return next(
            (c for c in checkpoints_of(candidates) if c.checkpoint_id == checkpoint_id),
            None,
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete the thread's key (and an old layout's records list)."""
        key = self.thread_key(thread_id)
        self._tops.pop(key, None)
        with translate_errors(self._conn, "deleting a thread"):
            client: Redis = await self._conn.client()
            await client.delete(key, key + ":rec")
