"""Chat models inside real runs: tokens reach stream mode "messages"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import Runtime, entrypoint, task
from runtime._messages import AIMessageChunk
from stores import MemorySaver
from tests.fake_llm_servers import anthropic_message, anthropic_stream, openai_stream

if TYPE_CHECKING:
    from runtime.models import ChatAnthropic, ChatOpenAI
    from tests.fake_llm_servers import FakeLLMServer


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


async def test_ainvoke_streams_tokens_into_a_messages_run(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script("/v1/messages", anthropic_stream(["Hel", "lo"]))

    @entrypoint(checkpointer=MemorySaver())
    async def agent(question: str) -> str:
        return (await claude.ainvoke(question)).text

    async with Runtime():
        items = [
            item
            async for item in agent.astream(
                "hi", config("m1"), stream_mode=["messages", "values"]
            )
        ]
    messages = [chunk for mode, chunk in items if mode == "messages"]
    assert [chunk.content for chunk, _ in messages if chunk.content] == ["Hel", "lo"]
    assert all(isinstance(chunk, AIMessageChunk) for chunk, _ in messages)
    assert {(meta["thread_id"], meta["langgraph_node"]) for _, meta in messages} == {
        ("m1", "agent")
    }
    assert ("values", "Hello") in items
    assert server.requests[0].json["stream"] is True


async def test_ainvoke_is_a_plain_call_when_nobody_streams_messages(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script("/v1/messages", anthropic_message("plain"))

    @entrypoint()
    async def agent(question: str) -> str:
        return (await claude.ainvoke(question)).text

    async with Runtime():
        assert [
            x async for x in agent.astream("hi", config("p1"), stream_mode="values")
        ] == ["plain"]
    assert "stream" not in server.requests[0].json


async def test_sync_task_invoke_streams_through_the_loop(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script("/v1/chat/completions", openai_stream(["sy", "nc"]))

    @task
    def ask(question: str) -> str:
        return gpt.invoke(question).text

    @entrypoint()
    async def agent(question: str) -> str:
        return await ask(question)

    async with Runtime():
        items = [
            item
            async for item in agent.astream("hi", config("s1"), stream_mode="messages")
        ]
    assert [chunk.content for chunk, meta in items if chunk.content] == ["sy", "nc"]
    assert {meta["langgraph_node"] for _, meta in items} == {"ask"}
