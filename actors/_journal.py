"""``Journal``: what a turn uses to make its progress durable.

The thread actor hands each turn a journal over the thread's state. The turn
starts or continues the pending run, records each finished task, and commits
the run's result; the journal writes through the checkpointer with fencing
and keeps the in-memory state the actor carries to the next turn.

Starting a run costs no round trip: the pending-run header is written with
the first record, or by ``flush()`` when the run stops unfinished, and a run
that commits without writing a record writes only its checkpoint (records
remembered but not yet written ride in it).
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from stores import (
    Checkpoint,
    CheckpointConflictError,
    CheckpointSaver,
    PendingRun,
    TaskRecord,
    ThreadState,
)
from stores._shared import SignalLike, new_signal

from ._telemetry import Telemetry

_PROCESS = os.urandom(4).hex()  # tells processes apart
_SEQUENCE = itertools.count()


def new_id() -> str:
    """A unique id that sorts by creation time: hex nanoseconds, process tag, sequence."""
    return f"{time.time_ns():016x}{_PROCESS}{next(_SEQUENCE) & 0xFFFF:04x}"


class _WriteLock:
    """One writer at a time within a turn: write-behind, flush and commit.

    anyio.Lock's contract for this one use, at an eighth of its cost per
    turn (every turn makes one and takes it once): nobody but the turn's
    own writers waits on it, so it needs no owner and no fairness.
    """

    __slots__ = ("_busy", "_free")

    def __init__(self) -> None:
        self._busy = False
        self._free: SignalLike | None = None

    async def __aenter__(self) -> None:
        while self._busy:  # cancelled while waiting: nothing is held
            if self._free is None:
                self._free = new_signal()
            await self._free.wait()
        self._busy = True

    async def __aexit__(self, *exc_info: object) -> None:
        self._busy = False
        free, self._free = self._free, None
        if free is not None:
            free.set()


class Journal:
    """The durable log of one turn on one thread (used only by that turn).

    A record is written at once (``record``) or remembered and written
    behind (``remember``, then ``write_behind``): a remembered record that
    is still unwritten when the run commits rides in the commit for free,
    since the checkpoint supersedes it. Writes go out in order, one at a
    time, so the stored records are always a prefix of the remembered ones.
    """

    __slots__ = (
        "_begun",
        "_lock",
        "_records",
        "_run",
        "_saver",
        "_state",
        "_telemetry",
        "_unsent",
        "thread_id",
    )

    def __init__(
        self,
        saver: CheckpointSaver,
        thread_id: str,
        state: ThreadState,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.thread_id = thread_id
        self._saver = saver
        self._telemetry = telemetry
        self._lock = _WriteLock()
        self._adopt(state)

    def _adopt(self, state: ThreadState) -> None:
        self._state = state
        self._run: PendingRun | None = state.run
        self._records: list[TaskRecord] = list(state.records)
        self._unsent: list[TaskRecord] = []
        self._begun = state.run is not None  # this run's header is stored

    @property
    def state(self) -> ThreadState:
        """The thread's durable state: latest checkpoint, pending run, stored records.

        A run whose header was never stored, and records not yet written,
        are left out: the next turn starts from what a crash would leave.
        (Until the header is stored every record is unwritten.)
        """
        records = self._records
        if self._unsent:
            records = records[: len(records) - len(self._unsent)]
        return ThreadState(
            latest=self._state.latest,
            run=self._run if self._begun else None,
            records=records,
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
        self._records, self._unsent = [], []
        self._begun = False
        return self._run

    async def flush(self) -> None:
        """Make the pending run durable: its header and every remembered record."""
        async with self._lock:
            await self._send()
            if self._run is not None and not self._begun:
                await self._saver.abegin_run(self.thread_id, self._run)
                self._begun = True

    async def record(self, record: TaskRecord) -> None:
        """Durably append ``record`` (after any remembered ones) before returning.

        Raises CheckpointConflictError if another writer replaced the run.
        """
        self.remember(record)
        await self.write_behind()

    def remember(self, record: TaskRecord) -> None:
        """Append ``record`` in memory; ``write_behind``, ``flush`` or ``commit`` stores it."""
        if self._run is None:
            raise RuntimeError("record() needs a run: call start_run() first")
        self._records.append(record)
        self._unsent.append(record)

    async def write_behind(self) -> None:
        """Store the remembered records now (in order; none left: nothing to do)."""
        if self._unsent:
            async with self._lock:
                await self._send()

    async def _send(self) -> None:
        # Under the lock: one writer at a time keeps the stored records a prefix.
        run = self._run
        while self._unsent and run is not None:
            record = self._unsent[0]
            begin = None if self._begun else run
            await self._saver.arecord(self.thread_id, run.run_id, record, begin=begin)
            self._begun = True
            del self._unsent[0]

    async def commit(
        self,
        value: bytes,
        save: bytes,
        metadata: dict[str, Any],
        fork: Checkpoint | None = None,
    ) -> Checkpoint:
        """Atomically write the next checkpoint and clear the pending run.

        Its parent is the latest checkpoint, or ``fork`` (an older one the
        run started from: time travel); it becomes the latest either way.

        Remembered records not yet written are dropped: the checkpoint
        supersedes them. Raises CheckpointConflictError (and reloads the
        thread) if a newer writer moved the thread on.
        """
        latest = self._state.latest
        parent = latest if fork is None else fork
        checkpoint = Checkpoint(
            thread_id=self.thread_id,
            version=self._state.version + 1,
            checkpoint_id=new_id(),
            created_at=time.time(),
            value=value,
            save=save,
            metadata=metadata,
            parent_id=parent.checkpoint_id if parent is not None else None,
        )
        async with self._lock:
            tel = self._telemetry
            try:
                committing = self._saver.acommit(
                    self.thread_id,
                    checkpoint,
                    expected_version=self._state.version,
                )
                await (
                    committing
                    if tel is None
                    else tel.commit(committing, checkpoint.version)
                )
            except CheckpointConflictError:
                self._adopt(await self._saver.aload(self.thread_id))
                raise
            self._adopt(ThreadState(latest=checkpoint))
        return checkpoint

    async def discard(self) -> None:
        """Drop the pending run and its records (rollback)."""
        async with self._lock:
            if self._run is not None and self._begun:
                await self._saver.adiscard_run(self.thread_id, self._run.run_id)
            self._run, self._records, self._unsent, self._begun = None, [], [], False
