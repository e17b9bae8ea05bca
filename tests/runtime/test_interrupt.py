"""interrupt() and Command(resume=...)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import (
    Command,
    Interrupt,
    NothingToResumeError,
    Runtime,
    entrypoint,
    interrupt,
    task,
)
from stores import MemorySaver

from .conftest import thread


async def test_interrupt_in_body_and_resume(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(topic: str) -> str:
        answer = interrupt({"question": f"approve {topic}?"})
        return f"{topic}: {answer}"

    cfg = thread()
    out = await wf.ainvoke("essay", cfg)
    (pending,) = out["__interrupt__"]
    assert isinstance(pending, Interrupt)
    assert pending.value == {"question": "approve essay?"}
    state = await wf.aget_state(cfg)
    assert state.next == ("wf",) and state.interrupts == (pending,)
    assert await wf.ainvoke(Command(resume="yes"), cfg) == "essay: yes"
    assert (await wf.aget_state(cfg)).interrupts == ()


async def test_interrupt_in_task_keeps_finished_siblings(saver: MemorySaver) -> None:
    runs: list[str] = []

    @task
    async def research(x: str) -> str:
        runs.append("research")
        return x.upper()

    @task
    async def review(text: str) -> str:
        runs.append("review")
        verdict = interrupt(text)
        return f"{text}:{verdict}"

    @entrypoint(checkpointer=saver)
    async def wf(x: str) -> str:
        return await review(await research(x))

    cfg = thread()
    async with Runtime():
        out = await wf.ainvoke("draft", cfg)
        assert [i.value for i in out["__interrupt__"]] == ["DRAFT"]
        assert await wf.ainvoke(Command(resume="ok"), cfg) == "DRAFT:ok"
    assert runs == [
        "research",
        "review",
        "review",
    ]  # the interrupted task reruns, research does not


async def test_several_pending_interrupts_resumed_by_id(saver: MemorySaver) -> None:
    @task
    async def ask(name: str) -> str:
        return f"{name}={interrupt(name)}"

    @entrypoint(checkpointer=saver)
    async def wf(names: list[str]) -> list[str]:
        futures = [ask(n) for n in names]
        return [await f for f in futures]

    cfg = thread()
    out = await wf.ainvoke(["a", "b"], cfg)
    pending = {i.value: i.id for i in out["__interrupt__"]}
    assert set(pending) == {"a", "b"}
    with pytest.raises(ValueError, match="2 interrupts are pending"):
        await wf.ainvoke(Command(resume="x"), cfg)
    # answer one: the other stays pending
    out = await wf.ainvoke(Command(resume={pending["a"]: 1}), cfg)
    assert [i.value for i in out["__interrupt__"]] == ["b"]
    assert await wf.ainvoke(Command(resume={pending["b"]: 2}), cfg) == ["a=1", "b=2"]


async def test_sequential_interrupts_in_one_run(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    def wf(_: Any) -> list[Any]:
        first = interrupt("first?")
        second = interrupt("second?")
        return [first, second]

    cfg = thread()
    assert (await wf.ainvoke(None, cfg))["__interrupt__"][0].value == "first?"
    assert (await wf.ainvoke(Command(resume=1), cfg))["__interrupt__"][
        0
    ].value == "second?"
    assert await wf.ainvoke(Command(resume=2), cfg) == [1, 2]


async def test_resume_without_pending_interrupt_is_a_clear_error(
    saver: MemorySaver,
) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(x: Any) -> Any:
        return x

    cfg = thread()
    with pytest.raises(NothingToResumeError, match="no interrupted run"):
        await wf.ainvoke(Command(resume=1), cfg)
    assert await wf.ainvoke(5, cfg) == 5


async def test_interrupt_outside_a_run() -> None:
    with pytest.raises(RuntimeError, match="outside a run"):
        interrupt("x")


async def test_new_input_replaces_an_interrupted_run(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(x: str, *, previous: Any = None) -> Any:
        if x == "ask":
            return interrupt("q")
        return [x, previous]

    cfg = thread()
    await wf.ainvoke("ask", cfg)
    assert await wf.ainvoke("fresh", cfg) == ["fresh", None]
    with pytest.raises(NothingToResumeError):
        await wf.ainvoke(Command(resume="late"), cfg)


async def test_stream_yields_interrupt_update(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> Any:
        return interrupt("stop here")

    chunks = [c async for c in wf.astream(None, thread())]
    assert len(chunks) == 1
    (pending,) = chunks[0]["__interrupt__"]
    assert pending.value == "stop here"
