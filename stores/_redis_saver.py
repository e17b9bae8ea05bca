# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""RedisSaver: the checkpointer contract on Redis, one hash tag per thread.

Key layout, for prefix ``P`` and thread ``T`` (``{T}`` is the Redis Cluster
hash tag, so every key of a thread lives in one slot)::

    P:{T}       HASH  v        latest version (absent: no checkpoint yet)
                      r        run_id of the pending run
                      run      the PendingRun (msgpack)
                      c:<n>    checkpoint version n (msgpack, without ``save``)
                      c        the latest checkpoint again (so a load needs no ``v``)
                      s        the latest checkpoint's ``save`` (``previous``)
                      i:<id>   checkpoint id -> version
    P:{T}:rec   LIST  the pending run's TaskRecords (msgpack), in order

Every call is one round trip. Each write is one Lua script, atomic and
fenced on what it expects. A load is one HMGET (one command, atomic by
itself) unless a run is pending or reads refresh a TTL: then the Lua load
follows, a second round trip. A TTL, when set, is re-applied to both keys
by every write and by ``aload``. Thread ids are percent-escaped (``%``,
``{``, ``}``), so a brace in an id cannot move the hash tag.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, Self, final

import msgspec

from ._checkpoint import (
    Checkpoint,
    PendingRun,
    TaskRecord,
    ThreadState,
    check_begin,
    check_commit,
    check_thread_id,
    decode_checkpoint,
    decode_pending_run,
    decode_task_record,
    encode_record,
)
from ._errors import CheckpointConflictError, StoreUnavailableError
from ._keys import parse_ttl_config
from ._redis_batch import GroupWriter
from ._redis_conn import RedisConnection, Script, translate_errors

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis

# ARGV[1] of every writing script: the TTL in ms, "0" for none.
_EXPIRE: Final = """
local function expire()
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
local function version()
  return tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
end
"""

_LOAD: Final = Script(
    _EXPIRE
    + """
local v = redis.call('HGET', KEYS[1], 'v')
local latest = false
if v then latest = redis.call('HGET', KEYS[1], 'c:' .. v) end
local run = redis.call('HGET', KEYS[1], 'run')
local records = redis.call('LRANGE', KEYS[2], 0, -1)
local save = redis.call('HGET', KEYS[1], 's')
expire()
return {latest, run, records, save}
"""
)

# ARGV: ttl, base_version, run_id, run bytes -> -1, or the current version on conflict.
_BEGIN: Final = Script(
    _EXPIRE
    + """
local v = version()
if v ~= tonumber(ARGV[2]) then return v end
redis.call('HSET', KEYS[1], 'r', ARGV[3], 'run', ARGV[4])
redis.call('DEL', KEYS[2])
expire()
return -1
"""
)

# ARGV: ttl, run_id, record bytes [, base_version, run bytes: begin the run first]
# -> {1}, {0, pending run_id or false}, or {2, version} (begin fenced out).
_RECORD: Final = Script(
    _EXPIRE
    + """
if ARGV[4] then
  local v = version()
  if v ~= tonumber(ARGV[4]) then return {2, v} end
  -- both fields new: no older run, so no older records to drop
  if redis.call('HSET', KEYS[1], 'r', ARGV[2], 'run', ARGV[5]) < 2 then
    redis.call('DEL', KEYS[2])
  end
else
  local pending = redis.call('HGET', KEYS[1], 'r')
  if pending ~= ARGV[2] then return {0, pending} end
end
redis.call('RPUSH', KEYS[2], ARGV[3])
expire()
return {1}
"""
)

# ARGV: ttl, expected, version, checkpoint id, bytes (without save), save bytes,
# clear ("1": a pending run may be stored; "0": none is, skip clearing it)
# -> {status, version}:
# 1 committed (or this very commit was already applied: a retried call),
# 0 conflict, 2 the id exists at another version.
_COMMIT: Final = Script(
    _EXPIRE
    + """
local got = redis.call('HMGET', KEYS[1], 'v', 'i:' .. ARGV[4])
local v, at = tonumber(got[1] or '0'), got[2]
if v ~= tonumber(ARGV[2]) then
  if at and tonumber(at) == v and v == tonumber(ARGV[3]) then return {1, v} end
  return {0, v}
end
if at then return {2, tonumber(at)} end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'c:' .. ARGV[3], ARGV[5], 'c', ARGV[5],
  'i:' .. ARGV[4], ARGV[3], 's', ARGV[6])
-- records exist only while a run is pending
if ARGV[7] == '1' and redis.call('HDEL', KEYS[1], 'r', 'run') > 0 then
  redis.call('DEL', KEYS[2])
end
expire()
return {1, v}
"""
)

# ARGV: ttl, run_id. An emptied hash disappears by itself.
_DISCARD: Final = Script(
    _EXPIRE
    + """
if redis.call('HGET', KEYS[1], 'r') == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'r', 'run')
  redis.call('DEL', KEYS[2])
  expire()
end
return 1
"""
)

# ARGV: before ("" for none), limit (-1 for all) -> checkpoint bytes, newest first.
_LIST: Final = Script(
    """
local top = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if ARGV[1] ~= '' then top = math.min(top, tonumber(ARGV[1]) - 1) end
local low = 1
local limit = tonumber(ARGV[2])
if limit >= 0 then low = math.max(1, top - limit + 1) end
local out = {}
local i = top
while i >= low do
  local fields = {}
  local stop = math.max(low, i - 499)
  for n = i, stop, -1 do fields[#fields + 1] = 'c:' .. n end
  for _, data in ipairs(redis.call('HMGET', KEYS[1], unpack(fields))) do
    if data then out[#out + 1] = data end
  end
  i = stop - 1
end
return out
"""
)

# ARGV: checkpoint id -> bytes or nil.
_GET: Final = Script(
    """
local at = redis.call('HGET', KEYS[1], 'i:' .. ARGV[1])
if not at then return false end
return redis.call('HGET', KEYS[1], 'c:' .. at)
"""
)


_SCRIPTS: Final = (_LOAD, _BEGIN, _RECORD, _COMMIT, _DISCARD, _LIST, _GET)


def _with_save(checkpoint: Checkpoint, save: bytes | None) -> Checkpoint:
    # No ``s`` field: a thread written when each checkpoint kept its own save.
    return (
        checkpoint if save is None else msgspec.structs.replace(checkpoint, save=save)
    )


def escape_tag(thread_id: str) -> str:
    """``thread_id`` with ``%``, ``{`` and ``}`` percent-escaped: safe inside a hash tag."""
    return thread_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


@final
class RedisSaver:
    """A checkpointer on Redis: atomic, fenced writes; one round trip per call.

    ``url``: a ``redis://`` url; default ``REDIS_URL``, else the embedded
    Redis. ``ttl``: minutes (or ``{"default_ttl": m, "refresh_on_read":
    bool}``) applied to every key of a thread by each write (and by
    ``aload`` unless ``refresh_on_read`` is False). ``prefix`` starts every
    key. Methods wait on Redis; put deadlines around them
    (``anyio.fail_after``). Cancellation mid-call leaves the old or the new
    state, never a mix. Redis failures raise StoreUnavailableError.
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

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    @property
    def round_trips(self) -> int:
        """Requests sent to Redis so far (a pipeline counts once)."""
        return self._conn.round_trips

    def thread_keys(self, thread_id: str) -> tuple[str, str]:
        """The two keys of a thread: its hash and its records list."""
        base = f"{self._prefix}:{{{escape_tag(check_thread_id(thread_id))}}}"
        return base, base + ":rec"

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

    async def _call(self, what: str, script: Script, thread_id: str, *args: Any) -> Any:
        return await self._send(what, script.command(self.thread_keys(thread_id), args))

    async def _send(self, what: str, command: tuple[Any, ...]) -> Any:
        with translate_errors(self._conn, what):
            writer = await self._writer()
            return await writer.call(command)

    async def _writer(self) -> GroupWriter:
        client: Redis = await self._conn.client()
        entry = self._writers.get(id(client))
        if entry is None or entry[0] is not client:
            entry = self._writers[id(client)] = (client, GroupWriter(client, _SCRIPTS))
        return entry[1]

    async def aload(self, thread_id: str) -> ThreadState:
        """Latest checkpoint, pending run and its records: one round trip, one command.

        A pending run (or a TTL refreshed on read) takes the Lua load
        instead: one more round trip, atomic over both keys.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
            StoreUnavailableError: if Redis cannot be reached.
        """
        if self._load_ttl_ms == "0":  # no TTL to refresh: try the one-command load
            key = self.thread_keys(thread_id)[0]
            latest, save, pending, version = await self._send(
                "loading a thread", ("HMGET", key, "c", "s", "r", "v")
            )
            if pending is None and (latest is not None or version is None):
                return ThreadState(
                    latest=_with_save(decode_checkpoint(latest), save)
                    if latest
                    else None
                )
            # a pending run (its records are in another key), or a thread
            # written before the latest checkpoint had its own field
        latest, run, records, save = await self._call(
            "loading a thread", _LOAD, thread_id, self._load_ttl_ms
        )
        return ThreadState(
            latest=_with_save(decode_checkpoint(latest), save) if latest else None,
            run=decode_pending_run(run) if run else None,
            records=[decode_task_record(r) for r in records],
        )

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        """Record ``run`` as the pending run, replacing any older one and its records.

        Raises:
            CheckpointConflictError: if the thread is no longer at ``run.base_version``.
        """
        data = encode_record(run)
        version = await self._call(
            "starting a run",
            _BEGIN,
            thread_id,
            self._ttl_ms,
            run.base_version,
            run.run_id,
            data,
        )
        if version != -1:
            raise CheckpointConflictError(
                f"thread {thread_id!r} is at version {version}, but run {run.run_id!r} "
                f"started from version {run.base_version}; reload the thread and start the run again"
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

        With ``begin`` (whose ``run_id`` must be ``run_id``), first make it
        the pending run, as ``abegin_run`` does, in the same atomic step.

        Raises:
            CheckpointConflictError: if ``run_id`` is not the pending run, or
                (with ``begin``) the thread moved past ``begin.base_version``.
        """
        data = encode_record(record)
        extra: tuple[Any, ...] = ()
        if begin is not None:
            check_begin(run_id, begin)
            extra = (begin.base_version, encode_record(begin))
        reply = await self._call(
            "recording a task", _RECORD, thread_id, self._ttl_ms, run_id, data, *extra
        )
        if reply[0] == 2:
            raise CheckpointConflictError(
                f"thread {thread_id!r} is at version {reply[1]}, but run {run_id!r} "
                f"started from version {extra[0]}; reload the thread and start the run again"
            )
        if reply[0] != 1:
            pending = reply[1].decode() if len(reply) > 1 and reply[1] else None
            raise CheckpointConflictError(
                f"run {run_id!r} is not the pending run of thread {thread_id!r} "
                f"(pending: {pending!r}); another run replaced or committed it: "
                "stop this run and reload the thread"
            )

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
        clear_run: bool = True,
    ) -> None:
        """Store ``checkpoint``, make it the latest, clear the pending run: atomically.

        ``clear_run=False`` (the caller stored no pending run) skips the
        clearing: the script then runs two commands, not four. Idempotent
        for a retried call: committing the checkpoint that is already the
        latest (same id and version) succeeds.

        Raises:
            CheckpointConflictError: (writing nothing) if the latest version
                is not ``expected_version``.
            ValueError: if ``checkpoint`` is for another thread, its version
                is not ``expected_version + 1``, or its id is already stored.
        """
        check_commit(thread_id, checkpoint, expected_version)
        status, version = await self._call(
            "committing a checkpoint",
            _COMMIT,
            thread_id,
            self._ttl_ms,
            expected_version,
            checkpoint.version,
            checkpoint.checkpoint_id,
            encode_record(msgspec.structs.replace(checkpoint, save=b"")),
            checkpoint.save,
            "1" if clear_run else "0",
        )
        if status == 0:
            raise CheckpointConflictError(
                f"thread {thread_id!r} is at version {version}, not {expected_version}: a newer "
                "writer committed first; reload the thread and retry the run"
            )
        if status == 2:
            raise ValueError(
                f"checkpoint id {checkpoint.checkpoint_id!r} already exists in thread "
                f"{thread_id!r} (version {version}); checkpoint ids must be unique"
            )

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        """Drop the pending run and its records if ``run_id`` is still pending."""
        await self._call("discarding a run", _DISCARD, thread_id, self._ttl_ms, run_id)

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        """Checkpoints newest first; ``before`` keeps versions below it. One round trip.

        Raises:
            ValueError: for a negative or non-int ``limit``.
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        if limit is not None and (type(limit) is not int or limit < 0):  # user input
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        if limit == 0:
            return []
        args = ("" if before is None else int(before), -1 if limit is None else limit)
        found = await self._call("listing checkpoints", _LIST, thread_id, *args)
        return [decode_checkpoint(data) for data in found]

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id, or None. One round trip.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        data = await self._call("reading a checkpoint", _GET, thread_id, checkpoint_id)
        return decode_checkpoint(data) if data else None

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every key of the thread (one DEL of both keys)."""
        keys = self.thread_keys(thread_id)
        with translate_errors(self._conn, "deleting a thread"):
            client: Redis = await self._conn.client()
            await client.delete(*keys)
