"""The entries of a thread's log stream, and how a load reads them back.

Entry ids order everything a thread ever wrote (see ``_saver``):
checkpoint ``v`` is ``v-0``; what a run on top of version ``v`` writes
before it commits goes at ``v-1``, ``v-2``, ... Fields (short names, since
every entry carries them):

    c     a checkpoint (msgpack, ``save`` left out)
    s     its full ``save``             (or)
    d, n  the tail appended to the previous checkpoint's save, and how
          many elements it holds (see ``_appends``)
    r     the run id of a run entry
    run   a PendingRun header (a run starts here, replacing older ones)
    t     a TaskRecord of run ``r``
    x     "1": run ``r`` was discarded

This module is pure: it turns XREVRANGE replies into a ThreadState.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from stores._checkpoint import (
    Checkpoint,
    PendingRun,
    TaskRecord,
    ThreadState,
    decode_checkpoint,
    decode_pending_run,
    decode_task_record,
)
from stores._errors import CorruptCheckpointError

from ._appends import join_appended


class Entry(msgspec.Struct, frozen=True):
    """One stream entry: its id ``version-seq`` and its fields."""

    version: int
    seq: int
    fields: dict[bytes, bytes]


class Top(msgspec.Struct, frozen=True):
    """A thread's newest entry: its id ``version-seq`` and the run pending there."""

    version: int
    seq: int
    pending: str | None = None
    """The run id of the pending run at this entry (None: no run is pending)."""
    chain: int = 0
    """Appended tails the latest save was rebuilt from (0: stored whole, or no save)."""


EMPTY_TOP: Final = Top(0, 0)


def parse_entries(reply: Iterable[Any]) -> list[Entry]:
    """XRANGE/XREVRANGE reply -> entries, in the reply's order."""
    out: list[Entry] = []
    for entry_id, flat in reply:
        version, _, seq = bytes(entry_id).partition(b"-")
        pairs = iter(flat)
        out.append(Entry(int(version), int(seq), dict(zip(pairs, pairs, strict=True))))
    return out


def run_entry(run_id: str, *fields: bytes | str) -> tuple[bytes | str, ...]:
    """The field list of a run entry (header, record or discard marker)."""
    return ("r", run_id, *fields)


def pending_of(tail: Sequence[Entry]) -> tuple[PendingRun | None, list[TaskRecord]]:
    """The pending run and its records from the entries after the latest checkpoint.

    ``tail`` is newest first, as XREVRANGE returns it.
    """
    run: PendingRun | None = None
    run_id: bytes | None = None
    records: list[TaskRecord] = []
    for entry in reversed(tail):
        fields = entry.fields
        owner = fields.get(b"r")
        header = fields.get(b"run")
        if header is not None:
            run, run_id, records = decode_pending_run(header), owner, []
        elif owner != run_id or run_id is None:
            continue  # cannot happen (appends are fenced): ignore, never guess
        elif b"x" in fields:
            run, run_id, records = None, None, []
            continue
        record = fields.get(b"t")
        if record is not None:
            records.append(decode_task_record(record))
    return run, records


def _latest_with_save(
    thread_id: str, history: Sequence[Entry]
) -> tuple[Checkpoint, int] | None:
    # history: checkpoint entries, newest first -> the latest with its save,
    # and how many tails rebuilt it. None: the chain goes on in older entries.
    latest = child = decode_checkpoint(history[0].fields[b"c"])
    tails: list[tuple[int, bytes]] = []
    for i, entry in enumerate(history):
        fields = entry.fields
        checkpoint = latest if i == 0 else decode_checkpoint(fields[b"c"])
        if i and child.parent_id != checkpoint.checkpoint_id:
            raise CorruptCheckpointError(
                f"thread {thread_id!r}: checkpoint {child.checkpoint_id!r} was stored as an "
                f"append to {child.parent_id!r}, but the checkpoint before it is "
                f"{checkpoint.checkpoint_id!r}; delete the thread or restore it from a backup"
            )
        full = fields.get(b"s")
        if full is not None:
            try:
                save = join_appended(full, reversed(tails)) if tails else full
            except ValueError as exc:
                raise CorruptCheckpointError(
                    f"thread {thread_id!r}: cannot rebuild the latest save: {exc}"
                ) from exc
            return msgspec.structs.replace(latest, save=save), len(tails)
        if b"d" not in fields:
            raise CorruptCheckpointError(
                f"thread {thread_id!r}: checkpoint {checkpoint.checkpoint_id!r} has neither "
                "a save nor an appended tail; delete the thread or restore it from a backup"
            )
        tails.append((int(fields[b"n"]), fields[b"d"]))
        child = checkpoint
    return None


def state_of(
    thread_id: str, entries: Sequence[Entry], *, exhausted: bool
) -> tuple[ThreadState, Top] | None:
    """The thread's state and top from its newest ``entries`` (newest first).

    None when they do not reach back far enough (read older entries and
    call again). ``exhausted``: these are all the entries there are.

    Raises:
        CorruptCheckpointError: if stored bytes fail to decode or the
            chain of appended saves is broken.
    """
    if not entries:
        return ThreadState(), EMPTY_TOP
    cut = next((i for i, e in enumerate(entries) if e.seq == 0), len(entries))
    if cut == len(entries) and not exhausted:
        return None
    run, records = pending_of(entries[:cut])
    newest = entries[0]
    pending = run.run_id if run is not None else None
    if cut == len(entries):
        return ThreadState(run=run, records=records), Top(
            newest.version, newest.seq, pending
        )
    found = _latest_with_save(thread_id, [e for e in entries[cut:] if e.seq == 0])
    if found is None:
        if not exhausted:
            return None
        raise CorruptCheckpointError(
            f"thread {thread_id!r}: no full save before its latest checkpoint; "
            "delete the thread or restore it from a backup"
        )
    latest, chain = found
    top = Top(newest.version, newest.seq, pending, chain)
    return ThreadState(latest=latest, run=run, records=records), top


def checkpoints_of(entries: Iterable[Entry]) -> list[Checkpoint]:
    """The checkpoints among ``entries``, in their order, without their saves."""
    return [decode_checkpoint(e.fields[b"c"]) for e in entries if e.seq == 0]
