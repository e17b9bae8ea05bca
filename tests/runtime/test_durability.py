"""``durability``: when a finished task's result is stored ("sync", "async", "exit")."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runtime import Runtime, entrypoint, task
from stores import CheckpointConflictError, MemorySaver, StoreUnavailableError

from .conftest import thread


class CountingSaver:
    """A real MemorySaver that counts the records written and can refuse them."""

    def __init__(self) -> None:
        self.inner = MemorySaver()
        self.records = 0
        self.refuse: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def arecord(self, *args: Any, **kwargs: Any) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.records += 1
        await self.inner.arecord(*args, **kwargs)


async def _stored(saver: CountingSaver, config: dict[str, Any]) -> list[str]:
    state = await saver.inner.aload(config["configurable"]["thread_id"])
    return [r.name for r in state.records]


def _workflow(saver: CountingSaver, seen: list[list[str]], gate: anyio.Event) -> Any:
    @task
    async def first(x: str) -> str:
        return x.upper()

    @entrypoint(checkpointer=saver)  # pyright: ignore[reportArgumentType] -- a wrapper
    async def wf(x: str, *, config: Any) -> str:
        value = await first(x)
        seen.append(
            await _stored(saver, config)
        )  # what is stored once the body sees it
        await gate.wait()
        seen.append(await _stored(saver, config))  # ... and while the body waits
        return value

    return wf


async def test_async_is_the_default_and_writes_the_record_behind() -> None:
    saver, seen, gate = CountingSaver(), [], anyio.Event()
    wf, config = _workflow(saver, seen, gate), thread()
    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(wf.ainvoke, "a", config)
        with anyio.fail_after(5):
            for _ in range(5000):  # written behind while the body waits
                if seen and await _stored(saver, config) == ["first"]:
                    break
                await anyio.sleep(0.001)
        gate.set()
    assert seen[0] == []  # the body saw the result before it was stored
    assert seen[1] == ["first"]
    assert saver.records == 1


@pytest.mark.parametrize(
    ("durability", "stored", "records"),
    [
        ("sync", ["first"], 1),  # stored before the body sees the result
        ("exit", [], 0),  # nothing stored while the run goes on
    ],
)
async def test_what_is_stored_while_the_body_runs(
    durability: Any, stored: list[str], records: int
) -> None:
    saver, seen, gate = CountingSaver(), [], anyio.Event()
    gate.set()
    wf = _workflow(saver, seen, gate)
    assert await wf.ainvoke("a", thread(), durability=durability) == "A"
    assert seen == [stored, stored]
    assert saver.records == records


async def test_a_task_finishing_as_the_run_commits_rides_in_the_commit() -> None:
    saver = CountingSaver()

    @task
    async def reply(x: str) -> str:
        return x + "!"

    @entrypoint(checkpointer=saver)  # pyright: ignore[reportArgumentType] -- a wrapper
    async def chat(x: str, *, previous: list[str] | None = None) -> Any:
        answer = await reply(x)
        return entrypoint.final(value=answer, save=[*(previous or []), answer])

    config = thread()
    async with Runtime():
        for text in ("a", "b", "c"):
            await chat.ainvoke(text, config)
    assert saver.records == 0  # nothing but the three checkpoints was written
    state = await saver.inner.aload(config["configurable"]["thread_id"])
    assert state.latest is not None and state.latest.version == 3
    assert state.run is None and state.records == []
    assert (await chat.aget_state(config)).values == "c!"


@pytest.mark.parametrize("durability", ["async", "exit"])
async def test_a_failed_run_keeps_its_finished_tasks(durability: Any) -> None:
    saver, calls, fail = CountingSaver(), [], [True]

    @task
    async def work(x: str) -> str:
        calls.append(x)
        return x * 2

    @entrypoint(checkpointer=saver)  # pyright: ignore[reportArgumentType] -- a wrapper
    async def wf(x: str) -> str:
        value = await work(x)
        if fail.pop():
            raise RuntimeError("boom after the task")
        return value

    config = thread()
    async with Runtime():
        with pytest.raises(RuntimeError, match="boom"):
            await wf.ainvoke("ab", config, durability=durability)
        assert await _stored(saver, config) == ["work"]
        fail.append(False)
        assert await wf.ainvoke(None, config) == "abab"  # resume: not run again
    assert calls == ["ab"]


async def test_a_record_that_fails_behind_fails_the_run_without_a_commit() -> None:
    saver, gate = CountingSaver(), anyio.Event()
    saver.refuse = CheckpointConflictError("run replaced by another writer")

    @task
    async def work() -> int:
        return 1

    @entrypoint(checkpointer=saver)  # pyright: ignore[reportArgumentType] -- a wrapper
    async def wf(_: Any) -> int:
        value = await work()
        await gate.wait()  # the write behind fails meanwhile and stops the run
        return value

    config = thread()
    with anyio.fail_after(5), pytest.raises(CheckpointConflictError, match="replaced"):
        await wf.ainvoke(None, config)
    assert (await saver.inner.aload(config["configurable"]["thread_id"])).latest is None


@pytest.mark.parametrize("bad", ["later", "SYNC", 1, True])
async def test_a_bad_durability_is_a_clear_error(bad: Any) -> None:
    @entrypoint(checkpointer=MemorySaver())
    async def wf(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="durability must be one of"):
        await wf.ainvoke(1, thread(), durability=bad)
    with pytest.raises(ValueError, match="durability must be one of"):
        async for _ in wf.astream(1, thread(), durability=bad):
            pass


async def test_what_a_failed_flush_did_not_store_is_not_assumed_stored() -> None:
    saver, calls = CountingSaver(), []

    @task
    async def step(name: str) -> str:
        calls.append(name)
        return name

    @entrypoint(checkpointer=saver)  # pyright: ignore[reportArgumentType] -- a wrapper
    async def wf(x: str | None) -> list[str]:
        first = await step("a")
        if x == "fail":
            saver.refuse = StoreUnavailableError("Redis is down")  # the flush fails
            raise RuntimeError("boom")
        return [first, await step("b")]

    config = thread()
    async with Runtime():
        with pytest.raises(StoreUnavailableError):
            await wf.ainvoke("fail", config)
        saver.refuse = None
        # Nothing of the failed run was stored, so nothing of it is kept, as
        # after a crash: input None starts a new run, and its records (written
        # at once here) carry their run header.
        assert await wf.ainvoke(None, config, durability="sync") == ["a", "b"]
    assert calls == ["a", "a", "b"]
    state = await saver.inner.aload(config["configurable"]["thread_id"])
    assert state.latest is not None and state.latest.version == 1
