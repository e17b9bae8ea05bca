"""The runtime on RedisSaver and RedisStore: the same semantics as in memory."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anyio
import pytest

from actors import RunCancelledError
from runtime import Command, Runtime, add_messages, entrypoint, interrupt, task
from stores import HashingEmbeddings, RedisSaver, RedisStore
from tests.redis_server import drop_prefix, new_prefix

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncGenerator[RedisStore]:
    prefix = new_prefix()
    index = {"dims": 64, "embed": HashingEmbeddings(dims=64), "fields": ["data"]}
    async with RedisStore(redis_url, index=index, prefix=prefix) as store:
        yield store
    drop_prefix(prefix)


def _cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, **extra}


async def test_a_turn_with_a_task_costs_one_saver_round_trip(
    redis_saver: RedisSaver,
) -> None:
    @task
    async def reply(text: str) -> str:
        return text.upper()

    @entrypoint(checkpointer=redis_saver)
    async def chat(text: str, *, previous: Any = None) -> Any:
        answer = await reply(text)
        return entrypoint.final(value=answer, save=[*(previous or []), answer])

    async with Runtime():
        await chat.ainvoke("warm", _cfg("one-trip"))  # activation loads the thread
        before = redis_saver.round_trips
        for text in ("a", "b", "c"):
            await chat.ainvoke(text, _cfg("one-trip"))
        trips = redis_saver.round_trips - before
        sync_before = redis_saver.round_trips
        await chat.ainvoke("d", _cfg("one-trip"), durability="sync")
        sync_trips = redis_saver.round_trips - sync_before
    assert trips == 3  # the task's record rode in each commit
    assert sync_trips == 2  # "sync": the record, then the commit
    state = await redis_saver.aload("one-trip")
    assert state.latest is not None and state.latest.version == 5
    assert (state.run, state.records) == (None, [])


async def test_many_threads_share_the_store_through_batches(
    redis_saver: RedisSaver, redis_store: RedisStore
) -> None:
    @entrypoint(checkpointer=redis_saver, store=redis_store)
    async def chat(text: str, *, previous: Any = None, store: Any, config: Any) -> Any:
        user = config["configurable"]["user"]
        await store.aput(("memories", user), f"m{len(previous or [])}", {"data": text})
        found = await store.asearch(("memories", user), query=text, limit=10)
        reply = f"{user} has {len(found)} memories"
        return entrypoint.final(
            value=reply, save=add_messages(previous, [("user", text), ("ai", reply)])
        )

    async def conversation(i: int) -> None:
        for turn in range(3):
            cfg = {"configurable": {"thread_id": f"c{i}", "user": f"u{i % 10}"}}
            await chat.ainvoke(f"fact {turn} of conversation {i}", cfg)

    async with Runtime() as rt, anyio.create_task_group() as tg:
        for i in range(100):
            tg.start_soon(conversation, i)
    stats = rt.statistics()
    assert stats.store_requests == 600
    assert (
        stats.store_batches < stats.store_requests
    )  # concurrent requests were batched
    for i in (0, 57, 99):
        state = await redis_saver.aload(f"c{i}")
        assert state.latest is not None and state.latest.version == 3
    assert (
        len(await redis_store.asearch(("memories", "u3"), limit=100)) == 3
    )  # keys m0..m2 shared by 10 threads


async def test_interrupt_and_resume_on_redis(redis_saver: RedisSaver) -> None:
    ran: list[str] = []

    @task
    async def draft(topic: str) -> str:
        ran.append("draft")
        return f"essay on {topic}"

    @entrypoint(checkpointer=redis_saver)
    async def wf(topic: str) -> str:
        text = await draft(topic)
        verdict = interrupt({"review": text})
        return f"{text} ({verdict})"

    out = await wf.ainvoke("cats", _cfg("intr"))
    assert out["__interrupt__"][0].value == {"review": "essay on cats"}
    assert (
        await wf.ainvoke(Command(resume="approved"), _cfg("intr"))
        == "essay on cats (approved)"
    )
    assert ran == ["draft"]
    history = [s async for s in wf.aget_state_history(_cfg("intr"))]
    assert [s.values for s in history] == ["essay on cats (approved)"]


async def test_rollback_on_redis_leaves_nothing_pending(
    redis_saver: RedisSaver,
) -> None:
    started = anyio.Event()

    @entrypoint(checkpointer=redis_saver)
    async def wf(x: str) -> str:
        if x == "slow":
            started.set()
            await anyio.sleep_forever()
        return x

    async def first() -> None:
        with pytest.raises(RunCancelledError):
            await wf.ainvoke("slow", _cfg("rb"))

    async with Runtime(), anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        assert (
            await wf.ainvoke("fast", _cfg("rb", multitask_strategy="rollback"))
            == "fast"
        )
    state = await redis_saver.aload("rb")
    assert state.run is None and state.latest is not None and state.latest.version == 1


async def test_update_state_on_redis(redis_saver: RedisSaver) -> None:
    @entrypoint(checkpointer=redis_saver)
    async def wf(x: int, *, previous: Any = None) -> Any:
        return [previous, x]

    await wf.ainvoke(1, _cfg("upd"))
    new_config = await wf.aupdate_state(_cfg("upd"), "patched")
    assert (await wf.aget_state(_cfg("upd"))).values == "patched"
    assert await wf.ainvoke(2, _cfg("upd")) == ["patched", 2]
    older = await wf.aget_state(new_config)
    assert older.values == "patched" and older.metadata["source"] == "update"
