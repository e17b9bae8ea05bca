"""ThreadActor and Journal: one turn at a time, strategies, replay, fencing."""

from __future__ import annotations

import anyio
import pytest

from actors import (
    ActorDeadError,
    ActorSystem,
    Journal,
    RunCancelledError,
    Submit,
    ThreadBusyError,
    ThreadStats,
)
from actors._actor import ActorRef
from stores import CheckpointConflictError, MemorySaver, ThreadState

from ._support import Turns, record, thread_actor


async def ask_outcome(
    ref: ActorRef[Submit], submit: Submit, out: dict[str, object], key: str
) -> None:
    """Store the reply, or the error the asker got, under ``key``."""
    try:
        out[key] = await ref.ask(submit)
    except Exception as exc:  # noqa: BLE001 -- the test inspects whatever the asker got
        out[key] = exc


# -- Journal ----------------------------------------------------------------------


async def test_journal_start_record_flush_commit() -> None:
    saver = MemorySaver()
    with anyio.fail_after(5):
        journal = Journal(saver, "t", await saver.aload("t"))
        with pytest.raises(RuntimeError, match="start_run"):
            await journal.record(record("a"))
        run = journal.start_run(b"input", {"k": 1})
        assert (await saver.aload("t")).run is None  # starting costs no round trip
        await journal.flush()
        assert (await saver.aload("t")).run == run
        await journal.record(record("a"))
        assert (await saver.aload("t")).records == [record("a")]
        assert journal.state.records == [record("a")]

        checkpoint = await journal.commit(b"value", b"save", {"source": "loop"})
        assert checkpoint.version == 1
        assert checkpoint.parent_id is None
        assert await saver.aload("t") == ThreadState(latest=checkpoint)
        assert journal.state == ThreadState(latest=checkpoint)

        journal.start_run(b"second")
        second = await journal.commit(b"v2", b"s2", {})
        assert (second.version, second.parent_id) == (2, checkpoint.checkpoint_id)


async def test_journal_record_writes_the_run_header_first() -> None:
    saver = MemorySaver()
    with anyio.fail_after(5):
        journal = Journal(saver, "t", ThreadState())
        run = journal.start_run(b"in")
        await journal.record(record("a"))
        state = await saver.aload("t")
        assert state.run == run
        assert state.records == [record("a")]


async def test_journal_discard_drops_the_pending_run() -> None:
    saver = MemorySaver()
    with anyio.fail_after(5):
        journal = Journal(saver, "t", ThreadState())
        journal.start_run(b"in")
        await journal.record(record("a"))
        await journal.discard()
        assert await saver.aload("t") == ThreadState()
        assert journal.run is None
        assert journal.state.records == []


async def test_journal_commit_fencing_second_writer_conflicts() -> None:
    saver = MemorySaver()
    with anyio.fail_after(5):
        base = await saver.aload("t")
        first = Journal(saver, "t", base)
        second = Journal(saver, "t", base)
        first.start_run(b"one")
        second.start_run(b"two")
        winner = await first.commit(b"1", b"1", {})
        with pytest.raises(CheckpointConflictError):
            await second.commit(b"2", b"2", {})
        # the loser reloaded: it now sees the winner's checkpoint
        assert second.state.latest == winner
        assert (await saver.aload("t")).latest == winner


async def test_journal_record_after_another_writer_committed_conflicts() -> None:
    saver = MemorySaver()
    with anyio.fail_after(5):
        base = await saver.aload("t")
        stale = Journal(saver, "t", base)
        stale.start_run(b"stale")
        await stale.record(record("a"))
        fresh = Journal(saver, "t", base)
        fresh.start_run(b"fresh")
        await fresh.commit(b"f", b"f", {})
        with pytest.raises(CheckpointConflictError):
            await stale.record(record("b"))


# -- ThreadActor: one turn at a time ----------------------------------------------


async def test_one_turn_at_a_time_and_enqueue_waits() -> None:
    saver = MemorySaver()
    turns = Turns()
    gate = anyio.Event()
    out: dict[str, object] = {}
    actor = thread_actor(saver)
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(actor)
            tg.start_soon(
                ask_outcome, ref, Submit(turns.blocked("first", gate)), out, "first"
            )
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(
                ask_outcome,
                ref,
                Submit(turns.commit("second"), "enqueue"),
                out,
                "second",
            )
            await anyio.wait_all_tasks_blocked()
            assert turns.log == ["start:first"], "the second turn started early"
            assert actor.statistics() == ThreadStats(
                thread_id="t1", busy=True, queued=1, mailbox=1, turns=0, version=0
            )
            gate.set()
    assert turns.log == ["start:first", "end:first", "start:second", "end:second"]
    assert turns.max_running == 1
    assert out == {"first": 1, "second": 2}
    assert actor.statistics().turns == 2
    assert actor.statistics().version == 2


async def test_reject_fails_fast_while_busy() -> None:
    saver = MemorySaver()
    turns = Turns()
    gate = anyio.Event()
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(thread_actor(saver))
            tg.start_soon(ref.ask, Submit(turns.blocked("first", gate)))
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(ThreadBusyError, match="busy") as info:
                await ref.ask(Submit(turns.commit("rejected"), "reject"))
            assert isinstance(info.value, RuntimeError)
            gate.set()
    assert "start:rejected" not in turns.log


async def test_reject_runs_when_idle() -> None:
    turns = Turns()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(thread_actor(MemorySaver()))
            assert await ref.ask(Submit(turns.commit("only"), "reject")) == 1


async def test_turn_error_goes_to_its_asker_and_the_thread_goes_on() -> None:
    turns = Turns()

    async def broken(journal: Journal) -> None:
        raise ZeroDivisionError("bad turn")

    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(thread_actor(MemorySaver()))
            with pytest.raises(ZeroDivisionError, match="bad turn"):
                await ref.ask(Submit(broken))
            assert await ref.ask(Submit(turns.commit("after"))) == 1


async def test_interrupt_cancels_the_running_turn_and_keeps_its_progress() -> None:
    saver = MemorySaver()
    turns = Turns()
    gate = anyio.Event()  # never set: only the interrupt ends the first turn
    out: dict[str, object] = {}
    seen: list[ThreadState] = []

    async def resumer(journal: Journal) -> str:
        seen.append(journal.state)
        return "resumed"

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(thread_actor(saver))
            first = Submit(turns.blocked("first", gate, records=["a", "b"]))
            tg.start_soon(ask_outcome, ref, first, out, "first")
            await anyio.wait_all_tasks_blocked()
            assert await ref.ask(Submit(resumer, "interrupt")) == "resumed"
    assert isinstance(out["first"], RunCancelledError)
    assert "interrupt" in str(out["first"])
    state = await saver.aload("t1")
    assert state.latest is None
    assert state.run is not None
    assert state.run.input == b"first"
    assert state.records == [record("a"), record("b")]
    # the interrupting turn continued from the kept progress
    assert seen[0].run == state.run
    assert seen[0].records == state.records


async def test_interrupt_before_any_record_still_keeps_the_run() -> None:
    # Starting a run writes nothing; the interrupt must flush its header so
    # the run can be resumed.
    saver = MemorySaver()
    turns = Turns()
    entered = anyio.Event()
    out: dict[str, object] = {}
    durable: list[ThreadState] = []

    async def peek(journal: Journal) -> None:
        durable.append(await saver.aload("t1"))

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(thread_actor(saver))
            first = Submit(turns.blocked("first", anyio.Event(), entered=entered))
            tg.start_soon(ask_outcome, ref, first, out, "first")
            await entered.wait()
            assert (await saver.aload("t1")).run is None
            await ref.ask(Submit(peek, "interrupt"))
    assert isinstance(out["first"], RunCancelledError)
    (state,) = durable
    assert state.run is not None
    assert state.run.input == b"first"
    assert state.records == []


async def test_idle_timeout_releases_and_stops_the_actor() -> None:
    released = anyio.Event()
    turns = Turns()
    actor = thread_actor(MemorySaver(), idle_timeout=0.05, on_release=released.set)
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(actor)
            assert await ref.ask(Submit(turns.commit("one"))) == 1
            await released.wait()
            await ref.wait_stopped()
            with pytest.raises(ActorDeadError) as info:
                await ref.ask(Submit(turns.commit("late")))
            assert info.value.retriable  # a fresh activation may take it
    assert actor.statistics().turns == 1


async def test_rollback_cancels_the_running_turn_and_discards_its_progress() -> None:
    saver = MemorySaver()
    turns = Turns()
    out: dict[str, object] = {}
    seen: list[ThreadState] = []
    pending: list[ThreadState] = []

    async def after(journal: Journal) -> str:
        seen.append(journal.state)
        pending.append(await saver.aload("t1"))
        return "after"

    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(thread_actor(saver))
            first = Submit(turns.blocked("first", anyio.Event(), records=["a"]))
            tg.start_soon(ask_outcome, ref, first, out, "first")
            await anyio.wait_all_tasks_blocked()
            assert (await saver.aload("t1")).records == [record("a")]
            assert await ref.ask(Submit(after, "rollback")) == "after"
    assert isinstance(out["first"], RunCancelledError)
    assert "rollback" in str(out["first"])
    assert pending == [ThreadState()]
    assert seen[0].run is None
    assert seen[0].records == []
    assert await saver.aload("t1") == ThreadState()


async def test_activation_replays_checkpoint_and_pending_records() -> None:
    saver = MemorySaver()
    turns = Turns()
    seen: list[ThreadState] = []

    async def unfinished(journal: Journal) -> str:
        journal.start_run(b"unfinished")
        await journal.record(record("a"))
        await journal.record(record("b"))
        return "stopped without committing"

    async def peek(journal: Journal) -> None:
        seen.append(journal.state)

    with anyio.fail_after(5):
        async with ActorSystem() as system:
            first = thread_actor(saver)
            ref = await system.spawn(first)
            assert await ref.ask(Submit(turns.commit("one", b"v1"))) == 1
            await ref.ask(Submit(unfinished))
            ref.stop()
            await ref.wait_stopped()

            second = thread_actor(saver)
            ref2 = await system.spawn(second)
            assert second.statistics().version == 1  # loaded before spawn returned
            await ref2.ask(Submit(peek))
    (state,) = seen
    assert state.latest is not None
    assert (state.latest.version, state.latest.value) == (1, b"v1")
    assert state.run is not None
    assert state.run.input == b"unfinished"
    assert state.records == [record("a"), record("b")]


async def test_two_actors_on_one_thread_are_fenced() -> None:
    saver = MemorySaver()
    turns = Turns()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            # both activate at version 0, as two owners of one thread would
            a = await system.spawn(thread_actor(saver))
            b = await system.spawn(thread_actor(saver))
            assert await a.ask(Submit(turns.commit("a"))) == 1
            with pytest.raises(CheckpointConflictError):
                await b.ask(Submit(turns.commit("b")))
            # the loser reloaded after the conflict: its next turn commits v2
            assert await b.ask(Submit(turns.commit("b again"))) == 2


async def test_stopping_fails_queued_turns_without_running_them() -> None:
    # "close, drain, fail": on stop the running turn finishes, but queued
    # requests fail with ActorDeadError instead of being started.
    saver = MemorySaver()
    turns = Turns()
    gate = anyio.Event()
    out: dict[str, object] = {}
    with anyio.fail_after(5):
        async with ActorSystem() as system, anyio.create_task_group() as tg:
            ref = await system.spawn(thread_actor(saver))
            tg.start_soon(
                ask_outcome, ref, Submit(turns.blocked("running", gate)), out, "running"
            )
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(
                ask_outcome, ref, Submit(turns.commit("queued")), out, "queued"
            )
            await anyio.wait_all_tasks_blocked()
            ref.stop()
            gate.set()
            await ref.wait_stopped()
    assert out["running"] == 1
    assert isinstance(out["queued"], ActorDeadError)
    assert "start:queued" not in turns.log
