"""The entrypoint surface: injection, final, config, errors, short-lived runtimes."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runtime import (
    Runtime,
    SerializationError,
    entrypoint,
    get_config,
    get_store,
    get_stream_writer,
    task,
)
from stores import InMemoryStore, MemorySaver

from .conftest import thread


async def test_previous_is_the_last_saved_value(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def counter(n: int, *, previous: int | None = None) -> int:
        return (previous or 0) + n

    cfg = thread()
    async with Runtime():
        assert await counter.ainvoke(2, cfg) == 2
        assert await counter.ainvoke(3, cfg) == 5
    # a later, short-lived runtime replays the same thread from the checkpointer
    assert await counter.ainvoke(4, cfg) == 9


async def test_only_declared_keywords_are_injected(
    saver: MemorySaver, store: InMemoryStore
) -> None:
    seen: dict[str, Any] = {}

    @entrypoint(checkpointer=saver, store=store)
    async def bare(x: int) -> int:
        return x

    @entrypoint(checkpointer=saver, store=store, name="full")
    async def full(
        x: int,
        *,
        previous: Any = None,
        store: Any = None,
        config: Any = None,
        writer: Any = None,
    ) -> int:
        seen.update(previous=previous, store=store, config=config, writer=writer)
        return x

    cfg = thread()
    assert await bare.ainvoke(1, cfg) == 1
    assert await full.ainvoke(7, cfg) == 7
    assert seen["previous"] == 1  # same thread, same checkpointer: bare's result
    assert (
        seen["config"]["configurable"]["thread_id"] == cfg["configurable"]["thread_id"]
    )
    assert seen["config"]["store"] is seen["store"]
    assert callable(seen["writer"])
    assert full.name == "full"


async def test_final_returns_value_and_saves_save(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(x: int, *, previous: Any = None) -> Any:
        return entrypoint.final(value={"got": x, "prev": previous}, save=x * 10)

    cfg = thread()
    assert await wf.ainvoke(1, cfg) == {"got": 1, "prev": None}
    assert await wf.ainvoke(2, cfg) == {"got": 2, "prev": 10}
    assert (await wf.aget_state(cfg)).values == {"got": 2, "prev": 10}


async def test_sync_entrypoint_function(saver: MemorySaver) -> None:
    @task
    def inc(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=saver)
    def wf(x: int, *, previous: Any = None) -> int:
        return inc(x).result() + (previous or 0)

    cfg = thread()
    assert await wf.ainvoke(1, cfg) == 2
    assert await wf.ainvoke(1, cfg) == 4


async def test_context_accessors_inside_a_run(
    saver: MemorySaver, store: InMemoryStore
) -> None:
    @task
    async def probe() -> dict[str, Any]:
        cfg = get_config()
        get_stream_writer()("from task")
        return {
            "thread": cfg["configurable"]["thread_id"],
            "same_store": get_store() is cfg["store"],
        }

    @entrypoint(checkpointer=saver, store=store)
    async def wf(_: Any) -> Any:
        await get_store().aput(("docs",), "a", {"text": "hi"})
        return await probe()

    cfg = thread("ctx")
    chunks = [c async for c in wf.astream(None, cfg, stream_mode="custom")]
    assert chunks == ["from task"]
    assert (await wf.aget_state(cfg)).values == {"thread": "ctx", "same_store": True}
    item = await store.aget(("docs",), "a")
    assert item is not None and item.value == {"text": "hi"}


async def test_without_checkpointer_nothing_persists() -> None:
    @entrypoint()
    async def wf(x: int, *, previous: Any = None) -> Any:
        return [x, previous]

    assert await wf.ainvoke(1) == [1, None]
    assert await wf.ainvoke(2, thread("same")) == [2, None]
    assert await wf.ainvoke(3, thread("same")) == [3, None]
    with pytest.raises(ValueError, match="needs a checkpointer"):
        await wf.aget_state(thread("same"))


async def test_accessors_outside_a_run_raise() -> None:
    @task
    def t() -> int:
        return 1

    with pytest.raises(RuntimeError, match="outside a run"):
        t()
    for accessor in (get_config, get_store, get_stream_writer):
        with pytest.raises(RuntimeError, match="outside a run"):
            accessor()


async def test_bad_config_is_a_clear_error(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="thread_id"):
        await wf.ainvoke(1)
    with pytest.raises(ValueError, match="thread_id"):
        await wf.ainvoke(1, {"configurable": {}})
    with pytest.raises(TypeError, match="mapping"):
        await wf.ainvoke(1, "t1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multitask_strategy"):
        await wf.ainvoke(1, thread(multitask_strategy="bogus"))


def test_bad_decorations_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="first positional"):
        entrypoint()(lambda *, previous=None: previous)
    with pytest.raises(TypeError, match="checkpointer"):
        entrypoint(checkpointer=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BaseStore"):
        entrypoint(store={})  # type: ignore[arg-type]


async def test_unserializable_result_leaves_thread_intact(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(x: Any, *, previous: Any = None) -> Any:
        if x == "bad":
            return object()
        return [x, previous]

    cfg = thread()
    assert await wf.ainvoke(1, cfg) == [1, None]
    with pytest.raises(SerializationError, match="cannot checkpoint"):
        await wf.ainvoke("bad", cfg)
    assert await wf.ainvoke(2, cfg) == [2, [1, None]]


async def test_unserializable_input_is_rejected_before_running(
    saver: MemorySaver,
) -> None:
    ran = anyio.Event()

    @entrypoint(checkpointer=saver)
    async def wf(x: Any) -> Any:
        ran.set()
        return 1

    with pytest.raises(SerializationError):
        await wf.ainvoke(object(), thread())
    assert not ran.is_set()


async def test_values_round_trip_with_their_types(saver: MemorySaver) -> None:
    from runtime import AIMessage, HumanMessage

    value = {
        "t": (1, 2),
        "s": {3},
        "m": [HumanMessage(content="hi"), AIMessage(content="yo")],
        "b": b"x",
    }

    @entrypoint(checkpointer=saver)
    async def wf(_: Any, *, previous: Any = None) -> Any:
        return previous if previous is not None else value

    cfg = thread()
    await wf.ainvoke(None, cfg)
    again = await wf.ainvoke(None, cfg)
    assert again == value
    assert isinstance(again["t"], tuple) and isinstance(again["m"][0], HumanMessage)
