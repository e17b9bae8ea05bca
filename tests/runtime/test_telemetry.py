"""OpenTelemetry: the span tree of a seed turn, its attributes and parenting, the metrics.

Spans go to the SDK's in-memory exporter and metrics to its in-memory reader;
the chat model is the real ChatAnthropic adapter against a local fake server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import StatusCode

from runtime import (
    AIMessage,
    BaseMessage,
    Command,
    OtlpSpanExporter,
    RetryPolicy,
    Runtime,
    SystemMessage,
    Tracing,
    add_messages,
    entrypoint,
    interrupt,
    task,
)
from runtime.models import ChatAnthropic
from stores import BaseStore, CheckpointConflictError, InMemoryStore, MemorySaver
from tests.fake_llm_servers import FakeLLMServer, anthropic_message, anthropic_stream
from tests.otel_support import Otel, OtlpReceiver, exported_tree

from .conftest import thread


@pytest.fixture
def otel() -> Iterator[Otel]:
    found = Otel()
    yield found
    found.close()


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def model(llm: FakeLLMServer) -> AsyncIterator[ChatAnthropic]:
    built = ChatAnthropic("claude-test", api_key="sk-ant", base_url=llm.url)
    yield built
    await built.aclose()


def seed_workflow(saver: MemorySaver, store: InMemoryStore, model: Any) -> Any:
    """The seed's cross-thread memory workflow (examples/cross_thread_memory.py)."""

    @task
    async def call_model(
        messages: list[BaseMessage], memory_store: BaseStore, user_id: str
    ) -> AIMessage:
        namespace = ("memories", user_id)
        last = messages[-1].text
        memories = await memory_store.asearch(namespace, query=last, limit=5)
        info = "\n".join(m.value["data"] for m in memories)
        system = SystemMessage(
            content=f"You are a helpful assistant. User info: {info}"
        )
        if "remember" in last.lower():
            await memory_store.aput(namespace, "name", {"data": last})
        return await model.ainvoke([system, *messages])

    @entrypoint(checkpointer=saver, store=store, name="workflow")
    async def workflow(inputs: Any, *, previous: Any = None, config: Any) -> Any:
        messages = add_messages(previous or [], inputs)
        response = await call_model(
            messages, config["store"], config["configurable"]["user_id"]
        )
        return entrypoint.final(value=response, save=add_messages(messages, response))

    return workflow


def bob(thread_id: str = "thread-1") -> tuple[list[dict[str, str]], dict[str, Any]]:
    config = thread(thread_id)
    config["configurable"]["user_id"] = "1"
    return [{"role": "user", "content": "Hi! Remember: my name is Bob"}], config


def seed_turn(
    llm: FakeLLMServer, saver: MemorySaver, store: InMemoryStore, model: Any
) -> tuple[Any, list[dict[str, str]], dict[str, Any]]:
    """The seed workflow, Bob's first message and its config; the model's reply scripted."""
    llm.script("/v1/messages", anthropic_message("Hi Bob!", model="claude-test-1"))
    inputs, config = bob()
    return seed_workflow(saver, store, model), inputs, config


async def test_seed_turn_span_tree(
    otel: Otel,
    llm: FakeLLMServer,
    model: ChatAnthropic,
    saver: MemorySaver,
    store: InMemoryStore,
) -> None:
    workflow, inputs, config = seed_turn(llm, saver, store, model)
    with anyio.fail_after(10):
        async with Runtime(tracing=otel.tracing()):
            tracer = otel.tracer_provider.get_tracer("caller")
            with tracer.start_as_current_span("request"):
                await workflow.ainvoke(inputs, config)

    tree = {s.name: otel.parent_of(s) for s in otel.spans() if s.name != "store batch"}
    assert tree == {
        "request": None,
        "checkpoint load": "request",  # the activation, in the caller's trace
        "invoke_workflow workflow": "request",
        "task call_model": "invoke_workflow workflow",
        "store search": "task call_model",
        "store put": "task call_model",
        "chat claude-test": "task call_model",
        "checkpoint commit": "invoke_workflow workflow",
    }
    request = otel.one("request")
    assert {s.context.trace_id for s in otel.spans() if s.name != "store batch"} == {
        request.context.trace_id
    }

    run = otel.one("invoke_workflow workflow")
    checkpoint = (await workflow.aget_state(config)).metadata
    assert run.attributes == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "workflow",
        "gen_ai.conversation.id": "thread-1",
        "actorgraph.run.multitask_strategy": "enqueue",
        "actorgraph.run.id": checkpoint["run_id"],
        "actorgraph.run.outcome": "completed",
        "actorgraph.checkpoint.version": 1,
    }
    assert otel.one("checkpoint commit").attributes == {
        "actorgraph.checkpoint.version": 1
    }
    assert otel.one("checkpoint load").attributes == {
        "gen_ai.conversation.id": "thread-1",
        "actorgraph.checkpoint.version": 0,
        "actorgraph.checkpoint.records": 0,
    }
    assert otel.one("task call_model").attributes == {
        "actorgraph.task.name": "call_model",
        "actorgraph.task.id": "0",
        "actorgraph.task.attempt": 1,
        "actorgraph.task.replayed": False,
    }
    chat = otel.one("chat claude-test")
    assert chat.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-test",
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.conversation.id": "thread-1",
        "gen_ai.response.model": "claude-test-1",
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
    }
    search, put = otel.one("store search"), otel.one("store put")
    assert search.attributes == {
        "db.operation.name": "search",
        "actorgraph.store.namespace": "memories.1",
        "actorgraph.store.results": 0,
    }
    assert put.attributes == {
        "db.operation.name": "put",
        "actorgraph.store.namespace": "memories.1",
        "actorgraph.store.key": "name",
    }
    # each batch is a trace of its own, linking the operations it carried
    batches = otel.named("store batch")
    assert [otel.parent_of(b) for b in batches] == [None, None]
    linked = [link.context.span_id for b in batches for link in b.links]
    assert sorted(linked) == sorted([search.context.span_id, put.context.span_id])
    assert all(b.context.trace_id != request.context.trace_id for b in batches)
    assert batches[0].attributes == {
        "db.operation.batch.size": 1,
        "actorgraph.store.requests": 1,
        "actorgraph.store.backend": "InMemoryStore",
    }


async def test_a_run_without_a_caller_span_is_a_root(
    otel: Otel, saver: MemorySaver
) -> None:
    @entrypoint(checkpointer=saver)
    async def echo(text: str) -> str:
        return text

    async with Runtime(tracing=otel.tracing()):
        await echo.ainvoke("a", thread("t1"))
        await echo.ainvoke("b", thread("t1"))
        assert [c async for c in echo.astream("c", thread("t1"))] == [{"echo": "c"}]
    runs = otel.named("invoke_workflow echo")
    assert [otel.parent_of(r) for r in runs] == [None, None, None]
    assert len({r.context.trace_id for r in runs}) == 3
    assert [r.attributes["actorgraph.checkpoint.version"] for r in runs] == [1, 2, 3]
    assert len(otel.named("checkpoint load")) == 1  # the thread stayed warm


async def test_content_is_a_separate_opt_in(
    otel: Otel,
    llm: FakeLLMServer,
    model: ChatAnthropic,
    saver: MemorySaver,
    store: InMemoryStore,
) -> None:
    llm.script("/v1/messages", anthropic_message("Hi Bob!"))
    llm.script("/v1/messages", anthropic_message("Hello again"))
    workflow = seed_workflow(saver, store, model)
    inputs, config = bob()
    async with Runtime(tracing=otel.tracing()):
        await workflow.ainvoke(inputs, config)
    (plain,) = otel.named("chat claude-test")
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(
        plain.attributes or {}
    )
    otel.exporter.clear()
    async with Runtime(tracing=otel.tracing(content=True)):
        await workflow.ainvoke([{"role": "user", "content": "hello"}], config)
    chat = otel.one("chat claude-test")
    assert chat.attributes is not None
    sent = json.loads(str(chat.attributes["gen_ai.input.messages"]))
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["parts"] == [
        {"type": "text", "content": "Hi! Remember: my name is Bob"}
    ]
    assert json.loads(str(chat.attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello again"}],
            "finish_reason": "end_turn",
        }
    ]


async def test_a_streamed_chat_call_is_one_span(
    otel: Otel, llm: FakeLLMServer, model: ChatAnthropic, saver: MemorySaver
) -> None:
    llm.script(
        "/v1/messages",
        anthropic_stream(["Hi ", "Bob"], input_tokens=7, output_tokens=3),
    )

    @entrypoint(checkpointer=saver)
    async def talk(text: str) -> str:
        return (await model.ainvoke(text)).text

    async with Runtime(tracing=otel.tracing(content=True)):
        chunks = [c async for c in talk.astream("hi", thread(), stream_mode="messages")]
    assert chunks
    chat = otel.one("chat claude-test")
    assert otel.parent_of(chat) == "invoke_workflow talk"
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.usage.input_tokens"] == 7
    assert chat.attributes["gen_ai.usage.output_tokens"] == 3
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    output = json.loads(str(chat.attributes["gen_ai.output.messages"]))
    assert output[0]["parts"] == [{"type": "text", "content": "Hi Bob"}]


async def test_replayed_and_retried_tasks(otel: Otel, saver: MemorySaver) -> None:
    calls: list[str] = []

    @task
    async def first() -> str:
        calls.append("first")
        return "one"

    @task(retry=RetryPolicy(initial_interval=0, jitter=False, max_attempts=3))
    async def flaky() -> str:
        calls.append("flaky")
        if calls.count("flaky") < 2:
            raise ConnectionError("try again")
        return "two"

    @entrypoint(checkpointer=saver)
    async def flow(_: Any) -> str:
        one = await first()
        answer = interrupt("go on?")
        return f"{one} {await flaky()} {answer}"

    config = thread()
    async with Runtime(tracing=otel.tracing()):
        interrupted = await flow.ainvoke("x", config)
        assert "__interrupt__" in interrupted
        assert await flow.ainvoke(Command(resume="yes"), config) == "one two yes"
    assert calls == ["first", "flaky", "flaky"]
    runs = otel.named("invoke_workflow flow")
    assert [r.attributes["actorgraph.run.outcome"] for r in runs] == [  # type: ignore[index]
        "interrupted",
        "completed",
    ]
    assert (
        runs[0].attributes["actorgraph.run.id"]
        == runs[1].attributes["actorgraph.run.id"]
    )  # type: ignore[index]
    ran, replayed = otel.named("task first")
    assert ran.attributes["actorgraph.task.replayed"] is False  # type: ignore[index]
    assert replayed.attributes["actorgraph.task.replayed"] is True  # type: ignore[index]
    assert otel.parent_of(replayed) == "invoke_workflow flow"
    assert replayed.context.trace_id == runs[1].context.trace_id
    retried = otel.one("task flaky")
    assert retried.attributes["actorgraph.task.attempt"] == 2  # type: ignore[index]
    assert [e.name for e in retried.events] == ["retry"]


async def test_a_failed_task_and_run_are_errors(otel: Otel, saver: MemorySaver) -> None:
    @task
    async def boom() -> None:
        raise KeyError("missing")

    @entrypoint(checkpointer=saver)
    async def flow(_: Any) -> None:
        await boom()

    async with Runtime(tracing=otel.tracing()):
        with pytest.raises(KeyError):
            await flow.ainvoke("x", thread())
    for name in ("task boom", "invoke_workflow flow"):
        span = otel.one(name)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "KeyError"  # type: ignore[index]
    assert (
        otel.one("invoke_workflow flow").attributes["actorgraph.run.outcome"]
        == "failed"
    )  # type: ignore[index]


async def test_metrics(
    otel: Otel,
    llm: FakeLLMServer,
    model: ChatAnthropic,
    saver: MemorySaver,
    store: InMemoryStore,
) -> None:
    for _ in range(3):
        llm.script("/v1/messages", anthropic_message("ok"))
    workflow = seed_workflow(saver, store, model)
    inputs, config = bob("a")
    async with Runtime(tracing=otel.tracing()):
        await workflow.ainvoke(inputs, config)
        await workflow.ainvoke(inputs, config)
        await workflow.ainvoke(inputs, bob("b")[1])
        assert otel.total("actorgraph.threads.active") == 2
        depth = {
            a["actorgraph.actor"]: v
            for a, v in otel.metrics()["actorgraph.mailbox.depth"]
        }
        assert depth == {"thread": 0, "store": 0}
    assert (
        otel.total("actorgraph.turns", **{"actorgraph.run.outcome": "completed"}) == 3
    )
    assert otel.total("actorgraph.thread.activations") == 2
    assert otel.total("actorgraph.thread.passivations") == 2  # the Runtime stopped them
    assert otel.total("actorgraph.threads.active") == 0
    assert otel.total("actorgraph.checkpoint.conflicts") == 0
    assert otel.total("actorgraph.chat.tokens", **{"gen_ai.token.type": "input"}) == 30
    assert otel.total("actorgraph.chat.tokens", **{"gen_ai.token.type": "output"}) == 15
    metrics = otel.metrics()
    ((_, turns),) = metrics["actorgraph.turn.duration"]
    assert turns.count == 3
    assert metrics["actorgraph.checkpoint.commit.duration"][0][1].count == 3
    assert metrics["actorgraph.checkpoint.load.duration"][0][1].count == 2
    sizes = metrics["actorgraph.store.batch.size"][0][1]
    assert (sizes.count, sizes.sum) == (6, 6)  # 3 searches, 3 puts, one at a time
    assert metrics["actorgraph.store.batch.duration"][0][1].count == 6


async def test_a_commit_conflict_is_counted(otel: Otel, saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    async def echo(text: str) -> str:
        return text

    config = thread()
    async with Runtime(tracing=otel.tracing()):
        await echo.ainvoke("warm", config)  # this Runtime keeps the thread warm
        async with Runtime():  # another writer moves the thread on
            await echo.ainvoke("elsewhere", config)
        with pytest.raises(CheckpointConflictError):
            await echo.ainvoke("stale", config)
    assert otel.total("actorgraph.checkpoint.conflicts") == 1
    failed = otel.named("checkpoint commit")[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "CheckpointConflictError"  # type: ignore[index]


async def test_a_sync_callers_span_is_the_runs_parent(
    otel: Otel, saver: MemorySaver
) -> None:
    @entrypoint(checkpointer=saver)
    async def echo(text: str) -> str:
        return text

    tracer = otel.tracer_provider.get_tracer("caller")

    def sync_caller() -> Any:
        with tracer.start_as_current_span("sync caller"):
            return echo.invoke("a", thread())

    async with Runtime(tracing=otel.tracing()):
        assert await anyio.to_thread.run_sync(sync_caller) == "a"
    assert otel.parent_of(otel.one("invoke_workflow echo")) == "sync caller"


async def test_an_actor_keeps_no_span_of_the_caller_that_activated_it(
    otel: Otel, saver: MemorySaver
) -> None:
    @entrypoint(checkpointer=saver)
    async def echo(text: str) -> str:
        return text

    config = thread()
    tracer = otel.tracer_provider.get_tracer("caller")
    async with Runtime(tracing=otel.tracing()):
        with tracer.start_as_current_span("first caller"):
            await echo.ainvoke("a", config)  # activates the thread
        await echo.aupdate_state(config, "b")  # a commit outside any run
    update = otel.named("checkpoint commit")[-1]
    assert update.attributes == {"actorgraph.checkpoint.version": 2}
    assert otel.parent_of(update) is None  # not "first caller"


EXPORTED_SEED_TURN = """\
request (internal)
  checkpoint load (client) gen_ai.conversation.id=thread-1 actorgraph.checkpoint.version=0 actorgraph.checkpoint.records=0
  invoke_workflow workflow (internal) gen_ai.operation.name=invoke_workflow gen_ai.workflow.name=workflow gen_ai.conversation.id=thread-1 actorgraph.run.multitask_strategy=enqueue actorgraph.run.outcome=completed actorgraph.checkpoint.version=1 actorgraph.run.id=…
    task call_model (internal) actorgraph.task.name=call_model actorgraph.task.id=0 actorgraph.task.attempt=1 actorgraph.task.replayed=False
      store search (client) db.operation.name=search actorgraph.store.namespace=memories.1 actorgraph.store.results=0
      store put (client) db.operation.name=put actorgraph.store.namespace=memories.1 actorgraph.store.key=name
      chat claude-test (client) gen_ai.operation.name=chat gen_ai.provider.name=anthropic gen_ai.request.model=claude-test gen_ai.request.max_tokens=1024 gen_ai.conversation.id=thread-1 gen_ai.response.model=claude-test-1 gen_ai.response.id=msg_1 gen_ai.response.finish_reasons=[end_turn] gen_ai.usage.input_tokens=10 gen_ai.usage.output_tokens=5
    checkpoint commit (client) actorgraph.checkpoint.version=1
store batch (client) db.operation.batch.size=1 actorgraph.store.requests=1 actorgraph.store.backend=InMemoryStore -> store search
store batch (client) db.operation.batch.size=1 actorgraph.store.requests=1 actorgraph.store.backend=InMemoryStore -> store put
"""
"""The span tree of ``test_the_exported_span_tree_of_a_seed_turn`` (bench/NOTES.md,
"Tracing, stop 21", shows it)."""


async def test_the_exported_span_tree_of_a_seed_turn(
    llm: FakeLLMServer,
    model: ChatAnthropic,
    saver: MemorySaver,
    store: InMemoryStore,
) -> None:
    workflow, inputs, config = seed_turn(llm, saver, store, model)
    metrics = Otel()  # (its meter provider; spans go to the collector)
    with OtlpReceiver() as collector:
        provider = TracerProvider()
        exporter = OtlpSpanExporter(endpoint=f"{collector.url}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracing = Tracing(
            tracer_provider=provider, meter_provider=metrics.meter_provider
        )
        with anyio.fail_after(10):
            async with Runtime(tracing=tracing):
                with provider.get_tracer("caller").start_as_current_span("request"):
                    await workflow.ainvoke(inputs, config)
        provider.shutdown()  # exports what is queued
        metrics.close()
    bodies = [body for path, _, body in collector.received if path == "/v1/traces"]
    tree = exported_tree(bodies, hidden=frozenset({"actorgraph.run.id"}))
    assert tree == EXPORTED_SEED_TURN.rstrip("\n")
