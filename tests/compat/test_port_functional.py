"""LangGraph functional-API how-to snippets, ported by changing their imports only.

Each test body is the LangGraph snippet; the comment above each import line
names the LangGraph import it replaces. Assertions state what LangGraph
prints for the same script.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

# from langgraph.func import entrypoint, task
# from langgraph.types import CachePolicy, Command, RetryPolicy, StreamWriter, interrupt
# from langgraph.config import get_stream_writer
# from langgraph.runtime import Runtime, get_runtime
from runtime import (
    CachePolicy,
    Command,
    RetryPolicy,
    Runtime,
    StreamWriter,
    entrypoint,
    get_runtime,
    get_stream_writer,
    interrupt,
    task,
)

# from langgraph.checkpoint.memory import InMemorySaver
# from langgraph.cache.memory import InMemoryCache
# from langgraph.store.memory import InMemoryStore
from stores import InMemoryCache, InMemorySaver, InMemoryStore


def test_previous_writer_and_state_history_sync() -> None:
    @task
    def add_one(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def counter(n: int, *, previous: int | None = None, writer: StreamWriter) -> int:
        writer(f"previous was {previous}")
        return add_one(n + (previous or 0)).result()

    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    assert list(counter.stream(1, config, stream_mode="custom")) == [
        "previous was None"
    ]
    assert counter.invoke(1, config) == 4
    history = list(counter.get_state_history(config))
    assert [s.values for s in history] == [4, 2]
    assert history[0].parent_config == history[1].config
    assert history[0].config["configurable"]["checkpoint_ns"] == ""


@dataclass
class Context:
    user_id: str


def test_context_schema_and_injected_runtime() -> None:
    store = InMemoryStore()
    store.put(("users",), "user_123", {"name": "Alice"})

    @task
    def greet_task(name: str) -> str:
        return f"Hello {name}! ({get_runtime(Context).context.user_id})"

    @entrypoint(checkpointer=InMemorySaver(), store=store, context_schema=Context)
    def greet(_: Any, *, runtime: Runtime[Context]) -> str:
        name = "unknown_user"
        if runtime.store:  # noqa: SIM102 -- the LangGraph snippet as written
            if memory := runtime.store.get(("users",), runtime.context.user_id):
                name = memory.value["name"]
        runtime.stream_writer({"previous": runtime.previous})
        return greet_task(name).result()

    config = {"configurable": {"thread_id": "1"}}
    out = greet.invoke({}, config, context=Context(user_id="user_123"))
    assert out == "Hello Alice! (user_123)"
    # a dict is turned into the dataclass, as LangGraph's _coerce_context does
    chunks = list(
        greet.stream({}, config, context={"user_id": "nobody"}, stream_mode="custom")
    )
    assert chunks == [{"previous": "Hello Alice! (user_123)"}]


def test_context_that_does_not_fit_the_schema_is_a_type_error() -> None:
    @entrypoint(context_schema=Context)
    def flow(x: int, *, runtime: Runtime[Context]) -> int:
        return x

    with pytest.raises(TypeError, match="context_schema Context"):
        flow.invoke(1, context={"user": "x"})


def test_retry_policy_list_and_cache_policy() -> None:
    attempts: list[str] = []

    @task(
        retry_policy=[
            RetryPolicy(retry_on=KeyError, max_attempts=2, initial_interval=0),
            RetryPolicy(retry_on=ValueError, max_attempts=3, initial_interval=0),
        ]
    )
    def flaky(x: int) -> int:
        attempts.append("try")
        if len(attempts) < 3:
            raise ValueError("transient")
        return x * 2

    calls: list[int] = []

    @task(cache_policy=CachePolicy(ttl=120))
    def slow_add(x: int) -> int:
        calls.append(x)
        time.sleep(0.01)
        return x * 2

    @entrypoint(cache=InMemoryCache())
    def main(inputs: dict[str, Any]) -> dict[str, Any]:
        result1 = slow_add(inputs["x"]).result()
        result2 = slow_add(inputs["x"]).result()
        return {"result1": result1, "result2": result2, "flaky": flaky(1).result()}

    assert main.invoke({"x": 5}) == {"result1": 10, "result2": 10, "flaky": 2}
    assert calls == [5]  # the second call was a cache hit
    assert len(attempts) == 3  # the ValueError policy (3 attempts) applied


def test_task_timeout_on_async_task() -> None:
    import anyio

    from runtime import TaskTimeoutError

    @task(timeout=0.05)
    async def stuck() -> None:
        await anyio.sleep(10)

    @entrypoint()
    async def flow(_: Any) -> None:
        await stuck()

    with pytest.raises(TaskTimeoutError, match="stuck"):
        flow.invoke(1)
    with pytest.raises(ValueError, match="async function"):

        @task(timeout=1)
        def sync_task() -> None: ...


def test_entrypoint_keywords_we_do_not_honour_are_errors() -> None:
    with pytest.raises(TypeError, match="retry_policy"):
        entrypoint(retry_policy=RetryPolicy())
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        entrypoint(bogus=1)

    @entrypoint()
    def flow(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="interrupt_before"):
        flow.invoke(1, interrupt_before=["x"])
    assert flow.invoke(1, debug=None, version="v1", print_mode=()) == 1


def test_human_in_the_loop() -> None:
    @task
    def write_essay(topic: str) -> str:
        return f"An essay about topic: {topic}"

    @entrypoint(checkpointer=InMemorySaver())
    def workflow(topic: str) -> dict[str, Any]:
        essay = write_essay("cat").result()
        is_approved = interrupt(
            {"essay": essay, "action": "Please approve/reject the essay"}
        )
        return {"essay": essay, "is_approved": is_approved}

    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    items = list(workflow.stream("cat", config))
    assert items[0] == {"write_essay": "An essay about topic: cat"}
    assert "__interrupt__" in items[-1]
    resumed = list(workflow.stream(Command(resume=True), config))
    assert resumed[-1] == {
        "workflow": {"essay": "An essay about topic: cat", "is_approved": True}
    }


def test_direct_checkpointer_calls() -> None:
    checkpointer = InMemorySaver()

    @entrypoint(checkpointer=checkpointer)
    def echo(x: str, *, previous: str | None = None) -> str:
        return (previous or "") + x

    config = {"configurable": {"thread_id": "1"}}
    echo.invoke("a", config)
    echo.invoke("b", config)
    latest = checkpointer.get_tuple(config)
    assert latest is not None
    assert latest.checkpoint["channel_values"]["__end__"] == "ab"
    assert latest.metadata["source"] == "loop"
    assert latest.config["configurable"]["checkpoint_id"] == latest.checkpoint["id"]
    listed = list(checkpointer.list(config))
    assert [t.checkpoint["channel_values"]["__end__"] for t in listed] == ["ab", "a"]
    assert listed[0].parent_config == listed[1].config
    assert list(checkpointer.list(config, limit=1)) == listed[:1]
    assert list(checkpointer.list(config, before=listed[0].config)) == listed[1:]
    older = checkpointer.get_tuple(listed[1].config)
    assert older is not None and older.checkpoint["channel_values"]["__end__"] == "a"
    assert checkpointer.get(config) == latest.checkpoint
    checkpointer.delete_thread("1")
    assert checkpointer.get_tuple(config) is None


async def test_direct_checkpointer_calls_async() -> None:
    checkpointer = InMemorySaver()

    @entrypoint(checkpointer=checkpointer)
    async def echo(x: int) -> int:
        return x

    config = {"configurable": {"thread_id": "1"}}
    await echo.ainvoke(1, config)
    await echo.ainvoke(2, config)
    found = await checkpointer.aget_tuple(config)
    assert found is not None and found.checkpoint["channel_values"]["__end__"] == 2
    items = [t async for t in checkpointer.alist(config, filter={"source": "loop"})]
    assert len(items) == 2
    assert (
        checkpointer.get_tuple(config) == found
    )  # sync, inside the loop, as LangGraph
    await checkpointer.adelete_thread("1")
    assert await checkpointer.aget_tuple(config) is None


def test_entrypoints_calling_entrypoints_with_subgraphs() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @entrypoint()
    def inner(x: int) -> int:
        get_stream_writer()(f"inner got {x}")
        return double(x).result()

    @entrypoint(checkpointer=InMemorySaver())
    def outer(x: int) -> int:
        return inner.invoke(x) + 1

    config = {"configurable": {"thread_id": "1"}}
    items = list(
        outer.stream(2, config, stream_mode=["updates", "custom"], subgraphs=True)
    )
    own = [(mode, chunk) for ns, mode, chunk in items if ns == ()]
    nested = [(ns, mode, chunk) for ns, mode, chunk in items if ns != ()]
    assert own == [("updates", {"outer": 5})]
    assert [(m, c) for _, m, c in nested] == [
        ("custom", "inner got 2"),
        ("updates", {"double": 4}),
        ("updates", {"inner": 4}),
    ]
    assert all(len(ns) == 1 and ns[0].startswith("outer:") for ns, _, _ in nested)
    # without subgraphs=True the nested run's chunks stay inside
    assert list(outer.stream(2, config)) == [{"outer": 5}]
    # one mode: (namespace, chunk) pairs
    single = list(outer.stream(2, config, subgraphs=True))
    assert single[-1] == ((), {"outer": 5})


def test_time_travel_forks_from_an_older_checkpoint() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def total(n: int, *, previous: int | None = None) -> int:
        return (previous or 0) + n

    config = {"configurable": {"thread_id": "1"}}
    for n in (1, 5, 10, 100):
        total.invoke(n, config)
    history = list(total.get_state_history(config))
    assert [s.values for s in history] == [116, 16, 6, 1]
    first = history[-1]
    assert total.invoke(5, first.config) == 6  # LangGraph: forks from the checkpoint
    fork = total.get_state(config)
    assert fork.values == 6
    assert fork.parent_config == first.config
    assert [s.values for s in total.get_state_history(config)] == [6, 116, 16, 6, 1]
    assert total.invoke(1, config) == 7  # the thread goes on from the fork


def test_a_fork_that_is_interrupted_resumes_on_its_branch() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def total(n: int, *, previous: int | None = None) -> int:
        ok = interrupt(f"add {n}?")
        return (previous or 0) + (n if ok else 0)

    config = {"configurable": {"thread_id": "1"}}
    for n in (1, 10):
        total.invoke(n, config)
        total.invoke(Command(resume=True), config)
    first = list(total.get_state_history(config))[-1]
    assert first.values == 1
    assert "__interrupt__" in total.invoke(5, first.config)
    assert total.invoke(Command(resume=True), config) == 6  # 1 + 5, not 11 + 5
    assert total.get_state(config).parent_config == first.config


def test_time_travel_from_a_checkpoint_with_a_separate_save_is_an_error() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int, *, previous: int | None = None) -> Any:
        return entrypoint.final(value=n, save=(previous or 0) + 10 * n)

    config = {"configurable": {"thread_id": "1"}}
    flow.invoke(1, config)
    flow.invoke(2, config)
    oldest = list(flow.get_state_history(config))[-1]
    with pytest.raises(ValueError, match="cannot fork"):
        flow.invoke(3, oldest.config)
    with pytest.raises(ValueError, match="names no checkpoint"):
        flow.invoke(3, {"configurable": {"thread_id": "1", "checkpoint_id": "nope"}})


def test_config_tags_metadata_run_name_in_checkpoint_metadata() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def flow(x: int) -> int:
        return x

    config = {
        "configurable": {"thread_id": "1"},
        "tags": ["a", "b"],
        "metadata": {"user": "u1"},
        "run_name": "nightly",
        "recursion_limit": 50,
    }
    flow.invoke(1, config)
    meta = flow.get_state({"configurable": {"thread_id": "1"}}).metadata
    flow.invoke(2, {"configurable": {"thread_id": "1"}, "metadata": {"user": "u2"}})
    history = flow.get_state_history(
        {"configurable": {"thread_id": "1"}}, filter={"user": "u1"}
    )
    assert [s.values for s in history] == [1]
    assert meta["tags"] == ["a", "b"]
    assert meta["user"] == "u1"
    assert meta["run_name"] == "nightly"
    with pytest.raises(ValueError, match="max_concurrency"):
        flow.invoke(1, {**config, "max_concurrency": 2})
    with pytest.raises(ValueError, match="recursion_limit"):
        flow.invoke(1, {**config, "recursion_limit": 0})


def test_checkpoints_and_tasks_stream_modes() -> None:
    @task
    def inc(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def flow(x: int) -> int:
        return inc(x).result()

    config = {"configurable": {"thread_id": "1"}}
    items = list(flow.stream(1, config, stream_mode=["tasks", "checkpoints"]))
    tasks = [c for m, c in items if m == "tasks"]
    assert [(t["name"], "result" in t) for t in tasks] == [
        ("flow", False),
        ("inc", False),
        ("inc", True),
        ("flow", True),
    ]
    assert tasks[2]["result"] == 2 and tasks[2]["error"] is None
    (checkpoint,) = [c for m, c in items if m == "checkpoints"]
    assert checkpoint["values"] == 2
    assert checkpoint["config"] == flow.get_state(config).config


def test_runtime_context_annotation_evaluates() -> None:
    import typing

    def node(state: dict[str, Any], runtime: Runtime[Context]) -> None: ...

    hints = typing.get_type_hints(
        node, localns={"Runtime": Runtime, "Context": Context}
    )
    assert hints["runtime"] == Runtime[Context]
    assert typing.get_origin(hints["runtime"]) is Runtime
