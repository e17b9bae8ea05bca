"""MemorySaver: the checkpointer contract, fencing, history, corruption."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from stores._checkpoint import (
    Checkpoint,
    CheckpointSaver,
    PendingRun,
    TaskRecord,
    ThreadState,
    decode_checkpoint,
    decode_pending_run,
    decode_task_record,
)
from stores._errors import CheckpointConflictError, CorruptCheckpointError
from stores._memory_saver import MemorySaver


def history_entry(checkpoint: Checkpoint) -> Checkpoint:
    """What alist/aget return: only the latest checkpoint keeps ``save``."""
    return msgspec.structs.replace(checkpoint, save=b"")


def ckpt(version: int, *, thread_id: str = "t", **kw: Any) -> Checkpoint:
    return Checkpoint(
        thread_id=thread_id,
        version=version,
        checkpoint_id=kw.pop("checkpoint_id", f"c{version:04}"),
        created_at=float(version),
        value=f"value{version}".encode(),
        save=f"save{version}".encode(),
        **kw,
    )


def run(run_id: str, base_version: int = 0) -> PendingRun:
    return PendingRun(
        run_id=run_id,
        input=b"in-" + run_id.encode(),
        base_version=base_version,
        started_at=1.0,
    )


def rec(task_id: str, kind: Any = "result") -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        name=task_id.split(":")[-1],
        kind=kind,
        payload=task_id.encode(),
    )


async def committed(saver: MemorySaver, thread_id: str, versions: int) -> None:
    for v in range(1, versions + 1):
        await saver.acommit(
            thread_id, ckpt(v, thread_id=thread_id), expected_version=v - 1
        )


def test_is_a_checkpoint_saver() -> None:
    saver: CheckpointSaver = MemorySaver()
    assert callable(saver.acommit)


async def test_unknown_thread_is_empty() -> None:
    saver = MemorySaver()
    state = await saver.aload("t")
    assert state == ThreadState()
    assert state.version == 0
    assert await saver.alist("t") == []
    assert await saver.aget("t", "c0001") is None


async def test_run_records_then_commit() -> None:
    saver = MemorySaver()
    await saver.abegin_run("t", run("r1"))
    await saver.arecord("t", "r1", rec("0:fetch"))
    await saver.arecord("t", "r1", rec("1:embed"))
    await saver.arecord("t", "r1", rec("2:ask", kind="interrupt"))
    state = await saver.aload("t")
    assert state.run == run("r1")
    assert [r.task_id for r in state.records] == ["0:fetch", "1:embed", "2:ask"]
    assert state.records[2].kind == "interrupt"
    assert state.latest is None
    await saver.acommit("t", ckpt(1, metadata={"run_id": "r1"}), expected_version=0)
    state = await saver.aload("t")
    assert state.latest == ckpt(1, metadata={"run_id": "r1"})
    assert state.version == 1
    assert state.run is None
    assert state.records == []


async def test_begin_run_is_fenced_on_base_version() -> None:
    saver = MemorySaver()
    await committed(saver, "t", 2)
    with pytest.raises(
        CheckpointConflictError,
        match="at version 2, but run 'r' started from version 1; reload",
    ):
        await saver.abegin_run("t", run("r", base_version=1))
    assert (await saver.aload("t")).run is None
    await saver.abegin_run("t", run("r", base_version=2))
    assert (await saver.aload("t")).run == run("r", base_version=2)


async def test_begin_run_replaces_older_run_and_its_records() -> None:
    saver = MemorySaver()
    await saver.abegin_run("t", run("old"))
    await saver.arecord("t", "old", rec("0:a"))
    await saver.abegin_run("t", run("new"))
    state = await saver.aload("t")
    assert state.run == run("new")
    assert state.records == []
    with pytest.raises(
        CheckpointConflictError, match=r"'old' is not the pending run.*pending: 'new'"
    ):
        await saver.arecord("t", "old", rec("1:b"))
    assert (await saver.aload("t")).records == []


async def test_record_needs_the_pending_run() -> None:
    saver = MemorySaver()
    with pytest.raises(CheckpointConflictError, match="pending: None"):
        await saver.arecord("t", "r", rec("0:a"))
    await saver.abegin_run("t", run("r"))
    await saver.acommit("t", ckpt(1), expected_version=0)
    with pytest.raises(CheckpointConflictError, match="stop this run"):
        await saver.arecord("t", "r", rec("0:a"))


async def test_commit_is_fenced_and_writes_nothing_on_conflict() -> None:
    saver = MemorySaver()
    await committed(saver, "t", 1)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    with pytest.raises(CheckpointConflictError, match=r"at version 1, not 2.*retry"):
        await saver.acommit("t", ckpt(3), expected_version=2)
    state = await saver.aload("t")
    assert state.version == 1
    assert state.run is not None
    assert len(state.records) == 1
    assert [c.version for c in await saver.alist("t")] == [1]


@pytest.mark.parametrize(
    ("checkpoint", "expected", "match"),
    [
        (ckpt(3), 1, "must be expected_version \\+ 1 = 2, got 3"),
        (ckpt(1), 1, "must be expected_version \\+ 1 = 2, got 1"),
        (ckpt(2, thread_id="other"), 1, "is for thread 'other'"),
        (ckpt(2, checkpoint_id="c0001"), 1, "already exists"),
    ],
)
async def test_commit_rejects_malformed_checkpoints(
    checkpoint: Checkpoint, expected: int, match: str
) -> None:
    saver = MemorySaver()
    await committed(saver, "t", 1)
    with pytest.raises(ValueError, match=match):
        await saver.acommit("t", checkpoint, expected_version=expected)
    assert (await saver.aload("t")).version == 1


async def test_concurrent_commits_from_one_version_let_exactly_one_win() -> None:
    saver = MemorySaver()
    outcomes: list[str] = []

    async def attempt(name: str) -> None:
        try:
            await saver.acommit("t", ckpt(1, checkpoint_id=name), expected_version=0)
            outcomes.append("won")
        except CheckpointConflictError:
            outcomes.append("lost")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(attempt, f"w{i}")
    assert sorted(outcomes) == ["lost"] * 4 + ["won"]
    assert len(await saver.alist("t")) == 1


async def test_discard_run_only_drops_the_named_run() -> None:
    saver = MemorySaver()
    await committed(saver, "t", 1)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    await saver.adiscard_run("t", "other")
    assert (await saver.aload("t")).run is not None
    await saver.adiscard_run("t", "r")
    state = await saver.aload("t")
    assert (state.run, state.records, state.version) == (None, [], 1)
    await saver.adiscard_run("never", "r")


async def test_history_is_newest_first_with_limit_and_before() -> None:
    saver = MemorySaver()
    await committed(saver, "t", 5)
    assert [c.version for c in await saver.alist("t")] == [5, 4, 3, 2, 1]
    assert [c.version for c in await saver.alist("t", limit=2)] == [5, 4]
    assert [c.version for c in await saver.alist("t", before=4)] == [3, 2, 1]
    assert [c.version for c in await saver.alist("t", before=4, limit=1)] == [3]
    assert await saver.alist("t", before=1) == []
    assert await saver.alist("t", limit=0) == []
    assert await saver.aget("t", "c0003") == history_entry(ckpt(3))
    assert await saver.aget("t", "missing") is None
    with pytest.raises(ValueError, match="limit"):
        await saver.alist("t", limit=-1)


async def test_delete_thread_removes_every_key_and_only_that_thread() -> None:
    saver = MemorySaver()
    await committed(saver, "t", 2)
    await committed(saver, "keep", 1)
    await saver.abegin_run("t", run("r", base_version=2))
    await saver.arecord("t", "r", rec("0:a"))
    await saver.adelete_thread("t")
    assert await saver.aload("t") == ThreadState()
    assert await saver.alist("t") == []
    assert await saver.aget("t", "c0001") is None
    with pytest.raises(CheckpointConflictError):
        await saver.arecord("t", "r", rec("1:b"))
    await saver.abegin_run("t", run("fresh", base_version=0))
    await saver.acommit("t", ckpt(1), expected_version=0)
    assert (await saver.aload("keep")).version == 1
    await saver.adelete_thread("never")


async def test_stored_as_bytes_not_live_objects() -> None:
    saver = MemorySaver()
    meta: dict[str, Any] = {"source": "loop", "tags": ["a"]}
    await saver.acommit("t", ckpt(1, metadata=meta), expected_version=0)
    meta["tags"].append("mutated")
    loaded = (await saver.aload("t")).latest
    assert loaded is not None
    assert loaded.metadata == {"source": "loop", "tags": ["a"]}
    loaded.metadata["tags"].append("again")
    assert (await saver.aget("t", "c0001")) == history_entry(
        ckpt(1, metadata={"source": "loop", "tags": ["a"]})
    )


@pytest.mark.parametrize("part", ["checkpoint", "run", "record"])
async def test_corrupt_bytes_raise_corrupt_checkpoint_error(part: str) -> None:
    saver = MemorySaver()
    await saver.acommit("t", ckpt(1), expected_version=0)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    # Reaching in: there is no public way to damage stored bytes.
    thread = saver._threads["t"]  # pyright: ignore[reportPrivateUsage]
    if part == "checkpoint":
        thread.checkpoints["c0001"] = b"\xc1not msgpack"
    elif part == "run":
        thread.run = b"\x93\x01\x02\x03"
    else:
        thread.records[0] = b"\x81\xa4kind\xa3bad"
    with pytest.raises(CorruptCheckpointError, match="cannot decode"):
        await saver.aload("t")


@pytest.mark.parametrize(
    "decode", [decode_checkpoint, decode_pending_run, decode_task_record]
)
def test_decoders_translate_errors(decode: Any) -> None:
    with pytest.raises(CorruptCheckpointError, match="cannot decode"):
        decode(b"\xc1")
    with pytest.raises(CorruptCheckpointError, match="cannot decode"):
        decode(b"\x80")


async def test_context_manager_and_aclose_keep_data() -> None:
    saver = MemorySaver()
    async with saver as entered:
        assert entered is saver
        await committed(saver, "t", 1)
    await saver.aclose()
    assert (await saver.aload("t")).version == 1


@pytest.mark.parametrize("thread_id", ["", None, 3])
async def test_bad_thread_ids_are_rejected(thread_id: Any) -> None:
    saver = MemorySaver()
    with pytest.raises(ValueError, match="thread_id must be a non-empty string"):
        await saver.aload(thread_id)
    with pytest.raises(ValueError, match="thread_id must be a non-empty string"):
        await saver.abegin_run(thread_id, run("r"))
