"""The sync twins, called from plain sync code (no event loop running)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import Command, entrypoint, get_store, interrupt, task
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


async def test_sync_twin_inside_an_event_loop_is_a_clear_error(
    saver: MemorySaver,
) -> None:
    @entrypoint(checkpointer=saver)
    def wf(x: int) -> int:
        return x

    with pytest.raises(RuntimeError, match="await its async twin"):
        wf.invoke(1, thread())
