"""The checkpointer read API and time travel on RedisSaver (asyncio: redis.asyncio)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest

from runtime import Command, HumanMessage, Runtime, add_messages, entrypoint, interrupt
from stores import RedisSaver
from tests.redis_server import admin, new_prefix, session_url

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def checkpointer() -> AsyncGenerator[RedisSaver]:
    prefix = new_prefix()
    async with RedisSaver(session_url(), prefix=prefix) as saver:
        yield saver
    keys = list(admin().scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        admin().delete(*keys)


async def test_checkpoint_tuples_on_redis(checkpointer: RedisSaver) -> None:
    @entrypoint(checkpointer=checkpointer)
    async def echo(x: str, *, previous: str | None = None) -> str:
        return (previous or "") + x

    config = {"configurable": {"thread_id": "1"}}
    async with Runtime():
        await echo.ainvoke("a", config)
        await echo.ainvoke("b", config)
    latest = await checkpointer.aget_tuple(config)
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {
        "__end__": "ab",
        "__previous__": "ab",
    }
    listed = [t async for t in checkpointer.alist(config)]
    assert [t.checkpoint["channel_values"]["__end__"] for t in listed] == ["ab", "a"]
    assert listed[0].parent_config == listed[1].config
    assert await checkpointer.aget(config) == latest.checkpoint
    await checkpointer.adelete_thread("1")
    assert await checkpointer.aget_tuple(config) is None


async def test_time_travel_on_redis_with_appended_saves(
    checkpointer: RedisSaver,
) -> None:
    @entrypoint(checkpointer=checkpointer)
    async def chat(text: str, *, previous: list[Any] | None = None) -> list[Any]:
        if text == "ask":
            interrupt("sure?")
        return add_messages(previous or [], [HumanMessage(text, id=text)])

    config = {"configurable": {"thread_id": "t"}}
    async with Runtime():
        for text in ("one", "two", "three"):
            await chat.ainvoke(text, config)
        history = [s async for s in chat.aget_state_history(config)]
        first = history[-1]
        forked = await chat.ainvoke("again", first.config)
        assert [m.content for m in forked] == ["one", "again"]
        assert "__interrupt__" in await chat.ainvoke("ask", config)
        resumed = await chat.ainvoke(Command(resume=True), config)
        assert [m.content for m in resumed] == ["one", "again", "ask"]
    async with Runtime():  # a fresh load rebuilds the latest save from Redis
        later = await chat.ainvoke("four", config)
        assert [m.content for m in later] == ["one", "again", "ask", "four"]
        state = await chat.aget_state(config)
        assert len([s async for s in chat.aget_state_history(config)]) == 6
        assert state.values == later
