"""Checkpoint records and the checkpointer (saver) contract.

A thread's durable state is:

- a chain of ``Checkpoint``s, versions 1, 2, 3, ...; the newest is the
  thread's state (``value`` for ``get_state``, ``save`` for ``previous``);
- at most one *pending run*: the input of a run that has started but not
  committed, plus the ``TaskRecord``s of what it has finished so far.

A run writes ``begin_run`` (replacing any older pending run), then one
``record`` per finished task (durable before the run goes on), then either
``commit`` (atomically: new checkpoint, latest pointer, pending run cleared;
fenced on the version it started from) or nothing (it failed or was
interrupted, and a later run resumes it). Values are opaque bytes: the
runtime owns serialization.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from ._errors import CorruptCheckpointError


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True, tag="ckpt.v1", gc=False):
    """One committed state of a thread."""

    thread_id: str
    version: int
    """1 for the first checkpoint of a thread, then +1 per commit."""
    checkpoint_id: str
    """Unique and sortable by time (hex of ns timestamp + random)."""
    created_at: float
    """Unix time in seconds."""
    value: bytes
    """The serialized return value of the run (``get_state().values``)."""
    save: bytes
    """The serialized value handed to the next run as ``previous``.

    Savers keep it for the latest checkpoint only (``aload`` returns it);
    history entries from ``alist``/``aget`` carry ``b""``, so a long
    conversation costs what each turn adds, not a copy of its history per turn.
    """
    metadata: dict[str, Any] = {}
    """Free-form: ``source`` ("loop" | "update"), ``run_id``, ``step``."""
    parent_id: str | None = None


class TaskRecord(msgspec.Struct, frozen=True, kw_only=True, tag="rec.v1", gc=False):
    """The recorded outcome of one task call (or interrupt/resume) in a pending run."""

    task_id: str
    """Deterministic: the call path within the run, e.g. ``"0:fetch/1:embed"``."""
    name: str
    kind: Literal["result", "interrupt", "resume", "error"]
    payload: bytes


class PendingRun(msgspec.Struct, frozen=True, kw_only=True, tag="run.v1", gc=False):
    """A run that has started and not committed."""

    run_id: str
    input: bytes
    base_version: int
    """The checkpoint version the run started from (0: none)."""
    started_at: float
    metadata: dict[str, Any] = {}


class ThreadState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What activating a thread loads, in one round trip."""

    latest: Checkpoint | None = None
    run: PendingRun | None = None
    records: list[TaskRecord] = []

    @property
    def version(self) -> int:
        """Version of the latest checkpoint, 0 when the thread has none."""
        return self.latest.version if self.latest is not None else 0


class CheckpointSaver(Protocol):
    """What a checkpointer must do; MemorySaver and RedisSaver implement it.

    All methods are coroutines; each is safe to call concurrently for
    different threads. Cancellation mid-call leaves either the old or the new
    state, never a mix.
    """

    async def aload(self, thread_id: str) -> ThreadState:
        """Latest checkpoint, pending run and its records, read in one round trip."""
        ...

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        """Record a new pending run, replacing any older one and its records.

        Raises CheckpointConflictError if the latest version is no longer
        ``run.base_version``.
        """
        ...

    async def arecord(
        self,
        thread_id: str,
        run_id: str,
        record: TaskRecord,
        *,
        begin: PendingRun | None = None,
    ) -> None:
        """Append ``record`` to the pending run, durably, before returning.

        With ``begin``, first make ``begin`` the pending run (as
        ``abegin_run`` does) in the same atomic step: a run's first record
        costs one round trip, not two. Raises CheckpointConflictError if
        ``run_id`` is not the pending run (or ``begin`` is fenced out).
        """
        ...

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
    ) -> None:
        """Atomically store ``checkpoint``, make it the latest, and clear the pending run.

        Raises CheckpointConflictError (and writes nothing) if the latest
        version is not ``expected_version``; ``checkpoint.version`` must be
        ``expected_version + 1``. A saver may store only what the new save
        appended to its parent's (one it remembers from its own loads and
        commits: the caller passes nothing for it). A saver may reject
        (ValueError) a checkpoint id it already holds.
        """
        ...

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        """Drop the pending run and its records if ``run_id`` is still pending."""
        ...

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        """Checkpoints newest first; ``before`` keeps versions below it."""
        ...

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id, or None."""
        ...

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every key of the thread: checkpoints, pending run, records."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def check_thread_id(thread_id: object) -> str:
    """``thread_id`` if it is a non-empty string of valid Unicode, else ValueError."""
    if not isinstance(thread_id, str) or not thread_id:
        raise ValueError(f"thread_id must be a non-empty string, got {thread_id!r}")
    if not thread_id.isascii():
        try:
            thread_id.encode()
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"thread_id {thread_id!r} is not valid Unicode text: it holds the "
                f"lone surrogate {thread_id[exc.start]!r} at position {exc.start}"
            ) from None
    return thread_id


def check_begin(run_id: str, begin: PendingRun | None) -> None:
    """ValueError if ``begin`` (for ``arecord``) names another run than ``run_id``."""
    if begin is not None and begin.run_id != run_id:
        raise ValueError(f"begin.run_id {begin.run_id!r} is not run_id {run_id!r}")


def check_commit(thread_id: str, checkpoint: Checkpoint, expected_version: int) -> None:
    """ValueError if ``checkpoint`` cannot follow ``expected_version`` on ``thread_id``."""
    check_thread_id(thread_id)
    if checkpoint.thread_id != thread_id:
        raise ValueError(
            f"checkpoint is for thread {checkpoint.thread_id!r}, not {thread_id!r}"
        )
    if checkpoint.version != expected_version + 1:
        raise ValueError(
            f"checkpoint.version must be expected_version + 1 = "
            f"{expected_version + 1}, got {checkpoint.version}"
        )


# Encoders and decoders are created once (see STYLE.md rule 15).
_ENCODER = msgspec.msgpack.Encoder()
_CKPT = msgspec.msgpack.Decoder(Checkpoint)
_RECORD = msgspec.msgpack.Decoder(TaskRecord)
_RUN = msgspec.msgpack.Decoder(PendingRun)


def encode_record(obj: Checkpoint | TaskRecord | PendingRun) -> bytes:
    """msgpack bytes of a checkpoint, task record or pending run."""
    return _ENCODER.encode(obj)


def decode_checkpoint(data: bytes) -> Checkpoint:
    """Decode a checkpoint; raises CorruptCheckpointError on bad bytes."""
    try:
        return _CKPT.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CorruptCheckpointError(f"cannot decode checkpoint: {exc}") from exc


def decode_task_record(data: bytes) -> TaskRecord:
    """Decode a task record; raises CorruptCheckpointError on bad bytes."""
    try:
        return _RECORD.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CorruptCheckpointError(f"cannot decode task record: {exc}") from exc


def decode_pending_run(data: bytes) -> PendingRun:
    """Decode a pending run; raises CorruptCheckpointError on bad bytes."""
    try:
        return _RUN.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CorruptCheckpointError(f"cannot decode pending run: {exc}") from exc
