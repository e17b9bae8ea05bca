"""MemorySaver: the checkpointer contract held in process memory.

It stores encoded bytes, never live objects, so it fails the way RedisSaver
does (a corrupt record is a CorruptCheckpointError, a mutated object never
leaks into history). Each method yields once, then reads or writes without
awaiting, so every write is atomic and cancellation leaves the old state.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import final

import anyio.lowlevel
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
from ._checkpoint_tuples import checkpoint_tuples
from ._closing import AsyncClosing
from ._errors import CheckpointConflictError


@dataclass(slots=True)
class _Thread:
    """Every key of one thread: what delete_thread removes."""

    checkpoints: dict[str, bytes] = field(default_factory=dict[str, bytes])
    versions: list[tuple[int, str]] = field(default_factory=list[tuple[int, str]])
    """(version, checkpoint_id), ascending; the last is the latest."""
    run_id: str | None = None
    run: bytes | None = None
    records: list[bytes] = field(default_factory=list[bytes])
    save: bytes = b""
    """The latest checkpoint's ``save``; history entries keep only their value."""

    @property
    def version(self) -> int:
        return self.versions[-1][0] if self.versions else 0


@checkpoint_tuples
@final
class MemorySaver(AsyncClosing):
    """A checkpointer that keeps every thread's history in process memory.

    Implements the ``CheckpointSaver`` protocol. It holds no connections:
    ``aclose()`` (or leaving ``async with``) is a no-op and the saver stays
    usable, so one instance can outlive many runtimes. Methods never block;
    each yields to the event loop once before touching state, and
    cancellation there leaves the state unchanged.
    """

    def __init__(self) -> None:
        """Create an empty saver."""
        self._threads: dict[str, _Thread] = {}

    async def aclose(self) -> None:
        """Nothing to release; the saver keeps its data and stays usable."""

    async def aload(self, thread_id: str) -> ThreadState:
        """Latest checkpoint, pending run and its records.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
            ValueError: for an empty or non-string ``thread_id``.
        """
        check_thread_id(thread_id)
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id)
        if thread is None:
            return ThreadState()
        latest = None
        if thread.versions:
            latest = decode_checkpoint(thread.checkpoints[thread.versions[-1][1]])
            latest = msgspec.structs.replace(latest, save=thread.save)
        return ThreadState(
            latest=latest,
            run=decode_pending_run(thread.run) if thread.run is not None else None,
            records=[decode_task_record(r) for r in thread.records],
        )

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        """Record ``run`` as the pending run, replacing any older one and its records.

        Raises:
            CheckpointConflictError: if the thread is no longer at ``run.base_version``.
        """
        check_thread_id(thread_id)
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id) or _Thread()
        if thread.version != run.base_version:
            raise CheckpointConflictError(
                f"thread {thread_id!r} is at version {thread.version}, but run "
                f"{run.run_id!r} started from version {run.base_version}; "
                "reload the thread and start the run again"
            )
        thread.run_id = run.run_id
        thread.run = encode_record(run)
        thread.records = []
        self._threads[thread_id] = thread

    async def arecord(
        self,
        thread_id: str,
        run_id: str,
        record: TaskRecord,
        *,
        begin: PendingRun | None = None,
    ) -> None:
        """Append ``record`` to the pending run ``run_id``.

        With ``begin`` (whose ``run_id`` must be ``run_id``), first make it
        the pending run, as ``abegin_run`` does, in the same atomic step.

        Raises:
            CheckpointConflictError: if ``run_id`` is not the pending run, or
                (with ``begin``) the thread moved past ``begin.base_version``.
        """
        check_thread_id(thread_id)
        if begin is not None:
            check_begin(run_id, begin)
            await self.abegin_run(
                thread_id, begin
            )  # no await between it and the append
        else:
            await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id)
        pending = thread.run_id if thread is not None else None
        if thread is None or pending != run_id:
            raise CheckpointConflictError(
                f"run {run_id!r} is not the pending run of thread {thread_id!r} "
                f"(pending: {pending!r}); another run replaced or committed it: "
                "stop this run and reload the thread"
            )
        thread.records.append(encode_record(record))

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
    ) -> None:
        """Store ``checkpoint``, make it the latest, and clear the pending run, atomically.

        A save is kept as the same bytes object, not copied.

        Raises:
            CheckpointConflictError: (writing nothing) if the latest version
                is not ``expected_version``.
            ValueError: if ``checkpoint`` is for another thread, its version
                is not ``expected_version + 1``, or its id is already stored.
        """
        check_commit(thread_id, checkpoint, expected_version)
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id) or _Thread()
        if thread.version != expected_version:
            raise CheckpointConflictError(
                f"thread {thread_id!r} is at version {thread.version}, not "
                f"{expected_version}: a newer writer committed first; reload the "
                "thread and retry the run"
            )
        if checkpoint.checkpoint_id in thread.checkpoints:
            raise ValueError(
                f"checkpoint id {checkpoint.checkpoint_id!r} already exists in "
                f"thread {thread_id!r}; checkpoint ids must be unique"
            )
        thread.checkpoints[checkpoint.checkpoint_id] = encode_record(
            msgspec.structs.replace(checkpoint, save=b"")
        )
        thread.save = checkpoint.save
        thread.versions.append((checkpoint.version, checkpoint.checkpoint_id))
        thread.run_id = thread.run = None
        thread.records = []
        self._threads[thread_id] = thread

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        """Drop the pending run and its records if ``run_id`` is still pending."""
        check_thread_id(thread_id)
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id)
        if thread is not None and thread.run_id == run_id:
            thread.run_id = thread.run = None
            thread.records = []
            if not thread.versions:
                del self._threads[thread_id]

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        """Checkpoints newest first; ``before`` keeps versions below it.

        Raises:
            ValueError: for a negative or non-int ``limit``.
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        check_thread_id(thread_id)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
        ):
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id)
        if thread is None:
            return []
        versions = thread.versions
        if before is not None:
            versions = versions[: bisect.bisect_left(versions, (before,))]
        newest = versions[::-1] if limit is None else versions[::-1][:limit]
        return [decode_checkpoint(thread.checkpoints[cid]) for _, cid in newest]

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id, or None.

        Raises:
            CorruptCheckpointError: if stored bytes fail to decode.
        """
        check_thread_id(thread_id)
        await anyio.lowlevel.checkpoint()
        thread = self._threads.get(thread_id)
        data = thread.checkpoints.get(checkpoint_id) if thread is not None else None
        return decode_checkpoint(data) if data is not None else None

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every key of the thread: checkpoints, latest pointer, pending run, records."""
        check_thread_id(thread_id)
        await anyio.lowlevel.checkpoint()
        self._threads.pop(thread_id, None)
