"""LangChain objects inside runs: the LangGraph snippets keep their langchain_core imports."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

# from langgraph.func import entrypoint, task
# from langgraph.graph.message import add_messages
# from langgraph.types import Command, interrupt
import runtime
from runtime import Command, add_messages, entrypoint, interrupt, task

# from langgraph.checkpoint.memory import InMemorySaver
from stores import InMemorySaver


def _model(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))


def test_langchain_messages_keep_their_class_through_checkpoints_and_resume() -> None:
    model = _model("Hello there friend", "Second answer")

    @task
    def call_model(messages: list[BaseMessage]) -> AIMessage:
        return model.invoke(messages)  # a LangChain model takes the LangChain input

    @entrypoint(checkpointer=InMemorySaver())
    def chat(
        inputs: list[BaseMessage], *, previous: list[BaseMessage] | None = None
    ) -> entrypoint.final[AIMessage, list[BaseMessage]]:
        messages = add_messages(previous or [], inputs)
        response = call_model(messages).result()
        approved = interrupt("ok?")
        messages = add_messages(messages, [response])
        return entrypoint.final(value=response, save=messages if approved else [])

    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    chat.invoke([HumanMessage("hi")], config)
    reply = chat.invoke(Command(resume=True), config)  # the task result is replayed
    assert type(reply) is AIMessage and reply.content == "Hello there friend"
    state = chat.get_state(config)
    assert type(state.values) is AIMessage
    chat.invoke([HumanMessage("again")], config)
    chat.invoke(Command(resume=True), config)
    saved = chat.get_state(config).values
    assert type(saved) is AIMessage and saved.content == "Second answer"


def test_add_messages_keeps_langchain_messages() -> None:
    merged = add_messages([HumanMessage("a", id="1")], [AIMessageChunk("b")])
    assert [type(m) for m in merged] == [HumanMessage, AIMessage]
    assert merged[1].id is not None
    from langchain_core.messages import RemoveMessage

    assert add_messages(merged, [RemoveMessage(id="1")]) == merged[1:]


# LangChain's async callback manager calls asyncio.gather: its async models run
# on asyncio only (sync models run on either backend, see the next test).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_chat_model_tokens_reach_messages_mode() -> None:
    model = _model("Hello there friend")

    @task
    async def call_model(messages: list[BaseMessage]) -> AIMessage:
        return await model.ainvoke(messages)

    @entrypoint(checkpointer=InMemorySaver())
    async def chat(messages: list[BaseMessage]) -> AIMessage:
        return await call_model(messages)

    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    tokens = [
        (chunk, meta)
        async for chunk, meta in chat.astream(
            [HumanMessage("hi")], config, stream_mode="messages"
        )
    ]
    assert "".join(str(c.content) for c, _ in tokens) == "Hello there friend"
    assert all(isinstance(c, AIMessageChunk) for c, _ in tokens)
    assert {m["langgraph_node"] for _, m in tokens} == {"call_model"}
    assert len(tokens) > 1  # token by token, though the task called ainvoke


def test_sync_chat_model_in_a_sync_task_streams_tokens() -> None:
    model = _model("one two three")

    @task
    def call_model(text: str) -> AIMessage:
        return model.invoke(text)

    @entrypoint()
    def chat(text: str) -> str:
        return str(call_model(text).result().content)

    tokens = [c.content for c, _ in chat.stream("hi", stream_mode="messages")]
    assert "".join(str(t) for t in tokens) == "one two three" and len(tokens) == 5


def test_config_callbacks_receive_run_and_model_events() -> None:
    events: list[str] = []

    class Recorder(BaseCallbackHandler):
        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            events.append(f"chain_start:{kw.get('name')}")

        def on_chain_end(self, outputs: Any, **kw: Any) -> None:
            events.append(f"chain_end:{outputs['output']}")

        def on_chat_model_start(
            self, serialized: Any, messages: Any, **kw: Any
        ) -> None:
            events.append("model_start")

        def on_llm_end(self, response: Any, **kw: Any) -> None:
            events.append("model_end")

    model = _model("fine")

    @task
    def call_model(text: str) -> str:
        return str(model.invoke(text).content)

    @entrypoint()
    def flow(text: str) -> str:
        return call_model(text).result()

    assert flow.invoke("hi", {"callbacks": [Recorder()]}) == "fine"
    assert events == ["chain_start:flow", "model_start", "model_end", "chain_end:fine"]


def test_messages_convert_both_ways() -> None:
    call = {"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    ours = runtime.AIMessage("x", id="m1", tool_calls=[call])
    theirs = runtime.to_langchain(ours)
    assert type(theirs) is AIMessage
    assert theirs.tool_calls[0]["args"] == {"a": 1} and theirs.id == "m1"
    back = runtime.from_langchain(theirs)
    assert back == ours
    assert runtime.to_langchain(("user", "hi")) == HumanMessage("hi")
    from langchain_core.messages import ChatMessage

    with pytest.raises(TypeError, match="ChatMessage"):
        runtime.from_langchain(ChatMessage("x", role="narrator"))


def test_pretty_print_matches_langchain(capsys: pytest.CaptureFixture[str]) -> None:
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}
    ours = runtime.AIMessage("Let me check.", tool_calls=[call], name="bot")
    theirs = AIMessage("Let me check.", tool_calls=[call], name="bot")
    assert ours.pretty_repr() == theirs.pretty_repr()
    runtime.HumanMessage("hi").pretty_print()
    assert capsys.readouterr().out == HumanMessage("hi").pretty_repr() + "\n"


async def test_sync_chat_model_streams_tokens_on_either_backend() -> None:
    model = _model("a b")

    @task
    def call_model(text: str) -> str:
        return str(model.invoke(text).content)

    @entrypoint()
    async def chat(text: str) -> str:
        return await call_model(text)

    tokens = [c.content async for c, _ in chat.astream("hi", stream_mode="messages")]
    assert tokens == ["a", " ", "b"]


async def test_config_callbacks_on_either_backend() -> None:
    ends: list[Any] = []

    class Recorder(BaseCallbackHandler):
        def on_chain_end(self, outputs: Any, **kw: Any) -> None:
            ends.append(outputs["output"])

        def on_llm_end(self, response: Any, **kw: Any) -> None:
            ends.append("model")

    model = _model("fine")

    @task
    def call_model(text: str) -> str:
        return str(model.invoke(text).content)

    @entrypoint()
    async def flow(text: str) -> str:
        return await call_model(text)

    assert await flow.ainvoke("hi", {"callbacks": [Recorder()]}) == "fine"
    assert ends == ["model", "fine"]
