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
whole one; a long chain takes one more read, of the thread's snapshot and
what came after it (``_snapshots``, ``_load``). History keeps every
checkpoint (``alist``/``aget`` scan the stream, ``_history``).

A TTL, when set, rides on every write and load (a short script: XADD or
XREVRANGE plus PEXPIRE). Every command goes through the saver's group
writer (``_pipeline``), on asyncio and trio alike.
"""

from __future__ import annotations

import contextlib
from typing import Self, final

from stores._checkpoint import (
    Checkpoint,
    PendingRun,
    TaskRecord,
    ThreadState,
    check_begin,
    check_commit,
    check_thread_id,
    encode_record,
)
from stores._checkpoint_tuples import checkpoint_tuples
from stores._closing import AsyncClosing
from stores._errors import CheckpointConflictError, FencedError, StoreUnavailableError
from stores._namespaces import parse_ttl_config

from ._commit import commit_checkpoint
from ._connection import RedisConnection, resolve_url, translate_errors
from ._entries import run_entry
from ._fence import fence_key
from ._history import get_checkpoint, list_checkpoints
from ._load import load_thread
from ._slots import SlotMap
from ._snapshots import SNAPSHOT_EVERY, check_snapshot_every, snapshot_key
from ._streams import DROP_IF_TOP, ThreadStreams, escape_tag


@checkpoint_tuples
@final
class RedisSaver(AsyncClosing):
    """A checkpointer on Redis: every write one fenced XADD, one round trip per call.

    ``url``: a ``redis://`` url; default ``REDIS_URL``, else the embedded
    Redis. ``ttl``: minutes (or ``{"default_ttl": m, "refresh_on_read":
    bool}``) applied to the thread's key by each write (and by ``aload``
    unless ``refresh_on_read`` is False). ``prefix`` starts every key.
    ``cluster=True``: ``url`` names a node of a Redis Cluster; the slot map
    is read once and each thread goes to its slot's master (``_slots``).
    ``snapshot_every``: appended saves between snapshots of a thread's
    whole save (default 128, at least 2): a load reads at most one snapshot
    and fewer than that many tails (``_snapshots``).
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
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        """Describe the saver; nothing connects until the first call.

        Raises:
            ValueError: for a malformed ``ttl``, a ``prefix`` with braces or
                a ``snapshot_every`` below 2.
        """
        self._snapshot_every = check_snapshot_every(snapshot_every)
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

    async def aclose(self) -> None:
        """Close the connection; the saver cannot be used afterwards."""
        await self._conn.aclose()
        if self._streams.slots is not None:
            await self._streams.slots.aclose()

    # -- the contract ------------------------------------------------------

    async def aload(self, thread_id: str) -> ThreadState:
        """Latest checkpoint, pending run and its records: one XREVRANGE.

        A save whose chain of appended tails reaches past the newest
        entries takes one more read: the thread's snapshot and the entries
        after it (see ``_load``).

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
            StoreUnavailableError: if Redis cannot be reached.
        """
        return await load_thread(
            self._streams,
            thread_id,
            self.thread_key(thread_id),
            ttl_ms=self._load_ttl_ms,
            snapshot_every=self._snapshot_every,
        )

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
        the tail is stored; every ``snapshot_every``-th such commit also
        writes the whole save as the thread's snapshot, in the same script. Idempotent for a retried call: committing the
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
        await commit_checkpoint(
            self._streams,
            thread_id,
            self.thread_key(thread_id),
            checkpoint,
            expected_version=expected_version,
            fence=fence,
            snapshot_every=self._snapshot_every,
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
                DROP_IF_TOP.command(
                    (key, snapshot_key(key)), (f"{top.version}-{top.seq}",)
                ),
            )
            if dropped:
                self._streams.forget(key)
                return

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        """Checkpoints newest first; ``before`` keeps versions below it.

        One round trip for the whole history; with a ``limit``, a read of
        about that many entries. Snapshots change nothing here: every
        checkpoint stays in the stream.

        Raises:
            ValueError: for a negative or non-int ``limit``.
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        return await list_checkpoints(
            self._streams, self.thread_key(thread_id), limit=limit, before=before
        )

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id (without its save), or None. One round trip over the history.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        return await get_checkpoint(
            self._streams, self.thread_key(thread_id), checkpoint_id
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete the thread's keys (stream, snapshot, cluster fence): one DEL."""
        key = self.thread_key(thread_id)
        self._streams.forget(key)
        await self._streams.send(
            "deleting a thread", ("DEL", key, fence_key(key), snapshot_key(key))
        )
