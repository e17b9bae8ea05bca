"""``Journal``: what a turn uses to make its progress durable.

The thread actor hands each turn a journal over the thread's state. The turn
starts or continues the pending run, records each finished task, and commits
the run's result; the journal writes through the checkpointer with fencing
and keeps the in-memory state the actor carries to the next turn.

Starting a run costs no round trip: the pending-run header is written with
the first record, or by ``flush()`` when the run stops unfinished, and a run
that commits without recording anything writes only its checkpoint.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import anyio

from stores import (
    Checkpoint,
    CheckpointConflictError,
    CheckpointSaver,
    PendingRun,
    TaskRecord,
    ThreadState,
)

_PROCESS = os.urandom(4).hex()  # tells processes apart
_SEQUENCE = itertools.count()


def new_id() -> str:
    """A unique id that sorts by creation time: hex nanoseconds, process tag, sequence."""
    return f"{time.time_ns():016x}{_PROCESS}{next(_SEQUENCE) & 0xFFFF:04x}"


class Journal:
    """The durable log of one turn on one thread (used only by that turn)."""

    __slots__ = (
        "_begin_lock",
        "_begun",
        "_records",
        "_run",
        "_saver",
        "_state",
        "thread_id",
    )

    def __init__(
        self, saver: CheckpointSaver, thread_id: str, state: ThreadState
    ) -> None:
        self.thread_id = thread_id
        self._saver = saver
        self._state = state
        self._run: PendingRun | None = state.run
        self._records: list[TaskRecord] = list(state.records)
        self._begun = state.run is not None
        self._begin_lock: anyio.Lock | None = None

    @property
    def state(self) -> ThreadState:
        """The thread's state as of now: latest checkpoint, pending run, records."""
        return ThreadState(
            latest=self._state.latest, run=self._run, records=self._records
        )

    @property
    def run(self) -> PendingRun | None:
        """The pending run this turn works on, if any."""
        return self._run

    def start_run(
        self, input_bytes: bytes, metadata: dict[str, Any] | None = None
    ) -> PendingRun:
        """Begin a fresh run from the latest checkpoint (replacing any pending one)."""
        self._run = PendingRun(
            run_id=new_id(),
            input=input_bytes,
            base_version=self._state.version,
            started_at=time.time(),
            metadata=metadata or {},
        )
        self._records = []
        self._begun = False
        return self._run

    async def flush(self) -> None:
        """Make the pending run's header durable (if it is not yet)."""
        if self._run is not None and not self._begun:
            await self._saver.abegin_run(self.thread_id, self._run)
            self._begun = True

    async def record(self, record: TaskRecord) -> None:
        """Durably append ``record`` to the pending run before returning.

        Raises CheckpointConflictError if another writer replaced the run.
        """
        if self._run is None:
            raise RuntimeError("record() needs a run: call start_run() first")
        if not self._begun:
            # Parallel tasks may finish together: one writes the header with
            # its record, the others wait for it (else a second header would
            # replace the first record).
            if self._begin_lock is None:
                self._begin_lock = anyio.Lock()
            async with self._begin_lock:
                if not self._begun:
                    run = self._run
                    await self._saver.arecord(
                        self.thread_id, run.run_id, record, begin=run
                    )
                    self._begun = True
                    self._records.append(record)
                    return
        await self._saver.arecord(self.thread_id, self._run.run_id, record)
        self._records.append(record)

    async def commit(
        self, value: bytes, save: bytes, metadata: dict[str, Any]
    ) -> Checkpoint:
        """Atomically write the next checkpoint and clear the pending run.

        Raises CheckpointConflictError (and reloads the thread) if a newer
        writer moved the thread on.
        """
        latest = self._state.latest
        checkpoint = Checkpoint(
            thread_id=self.thread_id,
            version=self._state.version + 1,
            checkpoint_id=new_id(),
            created_at=time.time(),
            value=value,
            save=save,
            metadata=metadata,
            parent_id=latest.checkpoint_id if latest is not None else None,
        )
        try:
            await self._saver.acommit(
                self.thread_id, checkpoint, expected_version=self._state.version
            )
        except CheckpointConflictError:
            await self.reload()
            raise
        self._state = ThreadState(latest=checkpoint)
        self._run, self._records, self._begun = None, [], False
        return checkpoint

    async def discard(self) -> None:
        """Drop the pending run and its records (rollback)."""
        if self._run is not None and self._begun:
            await self._saver.adiscard_run(self.thread_id, self._run.run_id)
        self._run, self._records, self._begun = None, [], False

    async def reload(self) -> None:
        """Re-read the thread from the checkpointer (after a conflict)."""
        self._state = await self._saver.aload(self.thread_id)
        self._run = self._state.run
        self._records = list(self._state.records)
        self._begun = self._run is not None
