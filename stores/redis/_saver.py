"""RedisSaver: the checkpointer contract on Redis, one stream per thread.

A thread is one Redis stream, ``P:{T}`` for prefix ``P`` and thread ``T``
(``{T}`` is the Redis Cluster hash tag; thread ids are percent-escaped so
a brace cannot move it). Entry ids order everything the thread wrote:
checkpoint ``v`` is entry ``v-0``; a run on top of version ``v`` writes its
header and task records at ``v-1``, ``v-2``, ... (fields: ``_entries``).

Every write is **one XADD with an explicit id**, and that is the fence:
Redis refuses an id not above the stream's newest, so

- a commit of version ``v+1`` (``(v+1)-0``) fails once anyone committed
  ``v+1`` or later;
- a task record goes right after the entry its run wrote last, so it fails
  once another run started, the run was discarded, or a commit came.

A write is one command in Redis.
The saver remembers each thread's newest entry from its own loads and
writes (``_streams``): when that is stale the XADD fails, and the
saver reads the newest entry (``XREVRANGE ... COUNT 1``) and decides; a
commit it cannot vouch for (never seen, or seen before a reconnect) reads
first, so a commit from a version the thread never reached is refused.

A commit stores the checkpoint without its ``save`` plus either the whole
save or, when the save is the previous one with elements appended (a
conversation), only that tail: a turn costs Redis what it adds. The saver
remembers the latest save of each thread it loaded or committed (with the
newest entry, in ``_streams``), so the caller passes nothing for this. A load is
one XREVRANGE of the newest entries, rebuilding the save from the last
whole one; a long chain takes one more read. History keeps every
checkpoint (``alist``/``aget`` scan the stream).

A TTL, when set, rides on every write and load (a short script: XADD or
XREVRANGE plus PEXPIRE). Every command goes through the saver's group
writer (``_pipeline``), on asyncio and trio alike.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Self, final

import msgspec

from stores._checkpoint import (
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
from stores._checkpoint_tuples import checkpoint_tuples
from stores._errors import CheckpointConflictError, FencedError, StoreUnavailableError
from stores._namespaces import parse_ttl_config

from ._appends import split_appended
from ._connection import RedisConnection, resolve_url, translate_errors
from ._entries import checkpoints_of, parse_entries, run_entry, state_of
from ._fence import fence_key
from ._pipeline import Reconnected
from ._slots import SlotMap
from ._streams import (
    DROP_IF_TOP,
    FIRST_PAGE,
    LOAD_TTL,
    Stale,
    ThreadStreams,
    escape_tag,
)

if TYPE_CHECKING:
    from types import TracebackType


@checkpoint_tuples
@final
class RedisSaver:
    """A checkpointer on Redis: every write one fenced XADD, one round trip per call.

    ``url``: a ``redis://`` url; default ``REDIS_URL``, else the embedded
    Redis. ``ttl``: minutes (or ``{"default_ttl": m, "refresh_on_read":
    bool}``) applied to the thread's key by each write (and by ``aload``
    unless ``refresh_on_read`` is False). ``prefix`` starts every key.
    ``cluster=True``: ``url`` names a node of a Redis Cluster; the slot map
    is read once and each thread goes to its slot's master (``_slots``).
    Methods wait on Redis; put deadlines around them (``anyio.fail_after``).
    Cancellation mid-call leaves the old or the new state, never a mix.
    Redis failures raise StoreUnavailableError.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        ttl: object = None,
        prefix: str = "ckpt",
        cluster: bool = False,
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
        slots = None
        if cluster:
            seed = resolve_url(url)
            if seed is None:
                raise ValueError(
                    "RedisSaver(cluster=True) needs the url of a Redis Cluster node "
                    "(or REDIS_URL): the embedded Redis is no cluster"
                )
            slots = SlotMap(self._conn, seed)
        self._streams = ThreadStreams(self._conn, self._ttl_ms, slots)

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    @property
    def round_trips(self) -> int:
        """Requests sent to Redis so far (a pipeline counts once)."""
        slots = self._streams.slots
        nodes = [] if slots is None else slots.nodes
        return self._conn.round_trips + sum(n.round_trips for n in nodes)

    def thread_key(self, thread_id: str) -> str:
        """The key of a thread's stream."""
        return f"{self._prefix}:{{{escape_tag(check_thread_id(thread_id))}}}"

    async def __aenter__(self) -> Self:
        """Connect now (starting the embedded Redis if needed) and load the scripts.

        The first call then pays no set-up. A Redis that cannot be reached
        is not an error here: each call reports it (StoreUnavailableError),
        and works once Redis is back.
        """
        slots = self._streams.slots
        if slots is not None:  # the slot map first: it says where each thread lives
            with translate_errors(self._conn, "reading the Redis Cluster's slots"):
                await slots.refresh()
            return self
        with (
            contextlib.suppress(StoreUnavailableError),
            translate_errors(self._conn, "connecting"),
        ):
            await (await self._streams.writer()).connect()
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
        if self._streams.slots is not None:
            await self._streams.slots.aclose()

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
            command = LOAD_TTL.command((key,), (self._load_ttl_ms, FIRST_PAGE))
        else:
            command = ("XREVRANGE", key, "+", "-", "COUNT", FIRST_PAGE)
        reply, seen = await self._streams.send_seen("loading a thread", command)
        entries = parse_entries(reply)
        found = state_of(thread_id, entries, exhausted=len(entries) < FIRST_PAGE)
        if found is None:  # a long chain: read the rest in one go
            last = entries[-1]
            rest, seen_rest = await self._streams.send_seen(
                "loading a thread",
                ("XREVRANGE", key, f"({last.version}-{last.seq}", "-"),
            )
            entries += parse_entries(rest)
            found = state_of(thread_id, entries, exhausted=True)
            assert found is not None  # exhausted: a state or an error
            if seen_rest != seen:  # read across a reconnect: vouch for nothing
                self._streams.forget(key)
                return found[0]
        state, top = found
        self._streams.set_top(key, top, seen, state.latest)
        return state

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        """Record ``run`` as the pending run, replacing any older one and its records.

        Raises:
            CheckpointConflictError: if the thread is no longer at ``run.base_version``.
        """
        fields = run_entry(run.run_id, "run", encode_record(run))
        await self._streams.append(
            "starting a run",
            thread_id,
            self.thread_key(thread_id),
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
        key = self.thread_key(thread_id)
        await self._streams.append(
            "recording a task", thread_id, key, fields, run_id=run_id, base=base
        )

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
        fence: int | None = None,
    ) -> None:
        """Store ``checkpoint`` as the latest (superseding any pending run): one XADD.

        ``fence`` (a cluster's lease epoch, see ``afence``): the XADD is a
        script that first checks the thread's fence still holds it.

        When ``checkpoint.parent_id`` names the latest checkpoint, as this
        saver loaded or wrote it, and the new save extends that one's, only
        the tail is stored. Idempotent for a retried call: committing the
        checkpoint that is already the latest (same id and version) succeeds.
        Checkpoint ids are not checked for uniqueness (that would cost a
        read per commit; the runtime makes them unique).

        Raises:
            CheckpointConflictError: (writing nothing) if the latest version
                is not ``expected_version``.
            FencedError: (writing nothing) if the fence moved past ``fence``.
            ValueError: if ``checkpoint`` is for another thread or its
                version is not ``expected_version + 1``.
        """
        check_commit(thread_id, checkpoint, expected_version)
        key = self.thread_key(thread_id)
        head = ("c", encode_record(msgspec.structs.replace(checkpoint, save=b"")))
        entry_id = f"{checkpoint.version}-0"
        for _ in range(3):  # another round only after a reconnect
            known = self._streams.vouched(key)
            tail = None
            if known is None or known.version != expected_version:
                # Not seen at this version since the last (re)connect: read the
                # newest entry, so that a commit from a version the thread never
                # reached (say, after a restarted Redis lost writes) is refused;
                # and store the save whole, since its base was not vouched for.
                self._streams.forget(key)
                known = await self._streams.top(key)
                if known.version != expected_version:
                    if await self._already_committed(key, checkpoint):
                        return
                    raise self._commit_conflict(
                        thread_id, known.version, expected_version
                    )
            elif (
                known.latest is not None
                and known.latest.checkpoint_id == checkpoint.parent_id
            ):
                tail = split_appended(known.latest.save, checkpoint.save)
            body = (
                ("s", checkpoint.save) if tail is None else ("d", tail[1], "n", tail[0])
            )
            try:
                seen = await self._streams.xadd(
                    "committing a checkpoint",
                    key,
                    entry_id,
                    head + body,
                    create=expected_version == 0,
                    # it leans on what was read: not across a reconnect
                    epoch=known.epoch,
                    fence=fence,
                )
            except Reconnected:
                self._streams.forget(key)  # read again, and store the save whole
                continue
            except Stale:
                self._streams.forget(key)
                if await self._already_committed(key, checkpoint):
                    return
                version = (await self._streams.top(key)).version
                raise self._commit_conflict(
                    thread_id, version, expected_version
                ) from None
            self._streams.remember(key, entry_id, seen, latest=checkpoint)
            return
        raise StoreUnavailableError(
            f"committing a checkpoint of thread {thread_id!r} failed: the connection "
            "to Redis kept reconnecting; check the server and retry the run"
        )

    async def afence(self, thread_id: str, epoch: int) -> None:
        """Raise the thread's fence to lease epoch ``epoch`` (before a cluster owner loads it).

        Raises:
            FencedError: if the fence already holds a higher epoch.
        """
        key = self.thread_key(thread_id)
        higher = await self._streams.raise_fence(key, epoch)
        if higher:
            raise FencedError(
                f"thread {thread_id!r} is held under lease epoch {higher}, "
                f"newer than {epoch}: another cluster member took its shard"
            )

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
        if (await self._streams.top(key)).version != version:
            return False
        found = parse_entries(
            await self._streams.send(
                "committing a checkpoint",
                ("XRANGE", key, f"{version}-0", f"{version}-0"),
            )
        )
        return bool(found) and (
            decode_checkpoint(found[0].fields[b"c"]).checkpoint_id
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
                    await self._streams.append(
                        "discarding a run",
                        thread_id,
                        key,
                        run_entry(run_id, "x", "1"),
                        run_id=run_id,
                        base=None,
                    )
                return
            top = await self._streams.top(key)
            dropped = await self._streams.send(
                "discarding a run",
                DROP_IF_TOP.command((key,), (f"{top.version}-{top.seq}",)),
            )
            if dropped:
                self._streams.forget(key)
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
                await self._streams.send(
                    "listing checkpoints", ("XREVRANGE", key, end, "-", *page)
                )
            )
            found += checkpoints_of(entries)
            if limit is None or count is None or len(entries) < count:
                return found if limit is None else found[:limit]
            if len(found) >= limit:
                return found[:limit]
            end, count = f"({entries[-1].version}-{entries[-1].seq}", count * 4

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id (without its save), or None. One round trip over the history.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        key = self.thread_key(thread_id)
        reply = await self._streams.send(
            "reading a checkpoint", ("XREVRANGE", key, "+", "-")
        )
        needle = checkpoint_id.encode()
        candidates = [
            e for e in parse_entries(reply) if e.seq == 0 and needle in e.fields[b"c"]
        ]
        return next(
            (c for c in checkpoints_of(candidates) if c.checkpoint_id == checkpoint_id),
            None,
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete the thread's key (and its cluster fence): one DEL."""
        key = self.thread_key(thread_id)
        self._streams.forget(key)
        await self._streams.send("deleting a thread", ("DEL", key, fence_key(key)))
