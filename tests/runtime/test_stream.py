"""Stream modes: values, updates, custom, messages, debug, and lists of modes."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import pytest

from runtime import AIMessageChunk, Runtime, entrypoint, task
from runtime._context import emit_message, wants_messages
from stores import MemorySaver

from .conftest import thread


def _workflow(saver: MemorySaver) -> Any:
    @task
    async def plus_one(x: int) -> int:
        return x + 1

    @task
    async def talk(x: int) -> str:
        if wants_messages():
            for piece in ("he", "llo"):
                await emit_message(AIMessageChunk(content=piece))
        return f"said {x}"

    @entrypoint(checkpointer=saver, name="flow")
    async def flow(x: int, *, writer: Any) -> dict[str, Any]:
        writer({"progress": "start"})
        y = await plus_one(x)
        said = await talk(y)
        writer({"progress": "end"})
        return {"y": y, "said": said}

    return flow


async def test_default_mode_is_updates(saver: MemorySaver) -> None:
    chunks = [c async for c in _workflow(saver).astream(1, thread())]
    assert chunks == [
        {"plus_one": 2},
        {"talk": "said 2"},
        {"flow": {"y": 2, "said": "said 2"}},
    ]


async def test_values_mode_yields_the_return_value(saver: MemorySaver) -> None:
    chunks = [
        c async for c in _workflow(saver).astream(1, thread(), stream_mode="values")
    ]
    assert chunks == [{"y": 2, "said": "said 2"}]


async def test_custom_mode_yields_writer_output(saver: MemorySaver) -> None:
    chunks = [
        c async for c in _workflow(saver).astream(1, thread(), stream_mode="custom")
    ]
    assert chunks == [{"progress": "start"}, {"progress": "end"}]


async def test_messages_mode_yields_chunks_with_metadata(saver: MemorySaver) -> None:
    cfg = thread("msg")
    chunks = [c async for c in _workflow(saver).astream(1, cfg, stream_mode="messages")]
    assert [chunk.content for chunk, _ in chunks] == ["he", "llo"]
    meta = chunks[0][1]
    assert meta["thread_id"] == "msg" and meta["langgraph_node"] == "talk"


async def test_debug_mode_reports_run_tasks_and_checkpoint(saver: MemorySaver) -> None:
    events = [
        c async for c in _workflow(saver).astream(1, thread(), stream_mode="debug")
    ]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run" and kinds[-1] == "checkpoint"
    assert kinds.count("task") == 2 and kinds.count("task_result") == 2
    results = {
        e["payload"]["name"]: e["payload"]["result"]
        for e in events
        if e["type"] == "task_result"
    }
    assert results == {"plus_one": 2, "talk": "said 2"}


async def test_list_of_modes_yields_pairs(saver: MemorySaver) -> None:
    pairs = [
        p
        async for p in _workflow(saver).astream(
            1, thread(), stream_mode=["values", "custom"]
        )
    ]
    assert pairs == [
        ("custom", {"progress": "start"}),
        ("custom", {"progress": "end"}),
        ("values", {"y": 2, "said": "said 2"}),
    ]


async def test_unknown_mode_is_a_clear_error(saver: MemorySaver) -> None:
    with pytest.raises(ValueError, match="unknown stream_mode 'tokens'"):
        [c async for c in _workflow(saver).astream(1, thread(), stream_mode="tokens")]


async def test_error_is_raised_after_the_chunks(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def wf(_: Any, *, writer: Any) -> None:
        writer("before")
        raise LookupError("broken")

    seen: list[Any] = []

    async def consume() -> None:
        async for chunk in wf.astream(None, thread(), stream_mode="custom"):
            seen.append(chunk)

    with pytest.raises(LookupError, match="broken"):
        await consume()
    assert seen == ["before"]


async def test_reader_leaving_early_does_not_stop_the_run(saver: MemorySaver) -> None:
    flow = _workflow(saver)
    cfg = thread()
    async with Runtime():
        async with aclosing(flow.astream(1, cfg, stream_mode="custom")) as chunks:
            async for _ in chunks:
                break
        with anyio.fail_after(5):
            while (await flow.aget_state(cfg)).values is None:  # noqa: ASYNC110 -- the run finishes on its own; bounded above
                await anyio.sleep(0.01)
    assert (await flow.aget_state(cfg)).values == {"y": 2, "said": "said 2"}


def test_sync_stream_from_plain_code() -> None:
    flow = _workflow(MemorySaver())
    assert list(flow.stream(1, thread(), stream_mode="values")) == [
        {"y": 2, "said": "said 2"}
    ]
    with pytest.raises(ValueError, match="unknown stream_mode"):
        flow.stream(1, thread(), stream_mode="nope")
