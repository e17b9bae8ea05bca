"""Turning stored checkpoints into the ``StateSnapshot``s users read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stores import Checkpoint, PendingRun, TaskRecord

from ._serde import loads
from ._types import Interrupt, StateSnapshot


def _config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def checkpoint_event(name: str, checkpoint: Checkpoint) -> dict[str, Any]:
    """What stream mode "checkpoints" yields for a new checkpoint (LangGraph's shape)."""
    parent = checkpoint.parent_id
    return {
        "config": _config(checkpoint.thread_id, checkpoint.checkpoint_id),
        "parent_config": _config(checkpoint.thread_id, parent) if parent else None,
        "values": loads(checkpoint.value),
        "metadata": {**checkpoint.metadata, "version": checkpoint.version},
        "next": [],
        "tasks": [],
        "name": name,
    }


def _pending_interrupts(records: list[TaskRecord]) -> tuple[Interrupt, ...]:
    answered = {r.name for r in records if r.kind == "resume"}
    return tuple(
        loads(r.payload)
        for r in records
        if r.kind == "interrupt" and r.name not in answered
    )


def snapshot_of(
    name: str,
    thread_id: str,
    checkpoint: Checkpoint | None,
    run: PendingRun | None,
    records: list[TaskRecord],
    parent: Checkpoint | None,
) -> StateSnapshot:
    """The snapshot of ``checkpoint``, with the pending run (if any) as ``next``."""
    if checkpoint is None:
        return StateSnapshot(
            values=None,
            next=(name,) if run is not None else (),
            config=_config(thread_id, None),
            metadata={},
            created_at=None,
            parent_config=None,
            interrupts=_pending_interrupts(records),
        )
    parent_id = checkpoint.parent_id if parent is None else parent.checkpoint_id
    return StateSnapshot(
        values=loads(checkpoint.value),
        next=(name,) if run is not None else (),
        config=_config(thread_id, checkpoint.checkpoint_id),
        metadata={**checkpoint.metadata, "version": checkpoint.version},
        created_at=datetime.fromtimestamp(checkpoint.created_at, UTC).isoformat(),
        parent_config=_config(thread_id, parent_id) if parent_id else None,
        interrupts=_pending_interrupts(records),
    )


def history_snapshots(
    name: str, thread_id: str, checkpoints: list[Checkpoint]
) -> list[StateSnapshot]:
    """Snapshots of ``checkpoints`` (newest first), each naming its parent."""
    return [snapshot_of(name, thread_id, c, None, [], None) for c in checkpoints]
