"""The sync twins, called from plain sync code and from inside running loops."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import pytest

from runtime import Command, Runtime, entrypoint, get_store, interrupt, task
from stores import InMemoryStore, MemorySaver

from .conftest import thread


def _workflow(saver: MemorySaver, store: InMemoryStore) -> Any:
    @task
    def remember(user: str, text: str) -> int:
        memories = get_store()  # sync store calls from a worker thread
        memories.put(("memories", user), text, {"data": text})
        return len(memories.search(("memories", user)))

    @entrypoint(checkpointer=saver, store=store)
    def chat(text: str, *, previous: list[str] | None = None, config: Any) -> Any:
        count = remember(config["configurable"]["user"], text).result()
        history = [*(previous or []), text]
        return entrypoint.final(value=f"{count} memories", save=history)

    return chat


def test_invoke_stream_and_state_from_sync_code(
    saver: MemorySaver, store: InMemoryStore
) -> None:
    chat = _workflow(saver, store)
    cfg = {"configurable": {"thread_id": "sync-1", "user": "u"}}
    assert chat.invoke("hello", cfg) == "1 memories"
    assert list(chat.stream("how are you", cfg, stream_mode="updates")) == [
        {"remember": 2},
        {"chat": "2 memories"},
    ]
    state = chat.get_state(cfg)
    assert state.values == "2 memories" and state.next == ()
    history = list(chat.get_state_history(cfg))
    assert [s.values for s in history] == ["2 memories", "1 memories"]
    assert history[0].parent_config == history[1].config
    chat.update_state(cfg, ["reset"])
    assert chat.get_state(cfg).values == ["reset"]
    assert chat.invoke("again", cfg) == "3 memories"
    assert store.search(("memories", "u"))[0].value["data"] == "again"


def test_sync_interrupt_and_resume(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    def approve(plan: str) -> str:
        return f"{plan}: {interrupt('ok?')}"

    cfg = thread()
    assert approve.invoke("ship", cfg)["__interrupt__"][0].value == "ok?"
    assert approve.invoke(Command(resume="yes"), cfg) == "ship: yes"


async def test_sync_twins_inside_a_running_loop_return_the_result(
    saver: MemorySaver, store: InMemoryStore
) -> None:
    # A notebook cell or sync code called from async code: the call runs on
    # the shared sync loop and blocks only this (loop) thread, as in LangGraph.
    chat = _workflow(saver, store)
    cfg = {"configurable": {"thread_id": "in-loop", "user": "v"}}
    assert chat.invoke("hello", cfg) == "1 memories"
    assert list(chat.stream("again", cfg)) == [{"remember": 2}, {"chat": "2 memories"}]
    assert chat.get_state(cfg).values == "2 memories"
    store.put(("notes",), "k", {"v": 1})
    item = store.get(("notes",), "k")
    assert item is not None and item.value == {"v": 1}


async def test_sync_twin_on_the_loop_thread_of_a_runtime_is_a_clear_error(
    saver: MemorySaver, store: InMemoryStore
) -> None:
    chat = _workflow(saver, store)
    cfg = {"configurable": {"thread_id": "in-runtime", "user": "w"}}
    async with Runtime():
        with pytest.raises(
            RuntimeError, match=r"event loop thread of a Runtime.*await"
        ):
            chat.invoke("hello", cfg)
        with pytest.raises(RuntimeError, match=r"Entrypoint\.astream"):
            next(iter(chat.stream("hello", cfg)))
        with pytest.raises(RuntimeError, match=r"aget_state"):
            chat.get_state(cfg)
        # From a worker thread the sync twin hops back to this Runtime.
        assert await anyio.to_thread.run_sync(chat.invoke, "hello", cfg) == "1 memories"
        assert await chat.ainvoke("more", cfg) == "2 memories"
