"""ChatOpenAI: what goes over the wire to /v1/chat/completions, and what comes back."""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import pytest

from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from runtime.models import ChatModelError, ChatOpenAI
from tests.fake_llm_servers import Reply, openai_completion, openai_stream, sse

if TYPE_CHECKING:
    from tests.fake_llm_servers import FakeLLMServer

    from .conftest import MessagesRun

PATH = "/v1/chat/completions"


def search(query: str, limit: int = 3, tags: list[str] | None = None) -> list[str]:
    """Search the web.

    Args:
        query: What to look for.
        limit: How many results.
    """
    return [query] * limit


async def drain(model: ChatOpenAI, *args: Any, **kwargs: Any) -> list[AIMessageChunk]:
    async with aclosing(model.astream(*args, **kwargs)) as stream:
        return [chunk async for chunk in stream]


async def test_request_shape_and_headers(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script(PATH, openai_completion("ok"))
    await gpt.ainvoke([SystemMessage("Be brief."), HumanMessage("hi", name="ann")])
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer sk-oai"
    assert request.json == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi", "name": "ann"},
        ],
    }


async def test_conversation_with_tool_round_trip(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script(PATH, openai_completion("done"))
    history = [
        ("user", "find cats"),
        AIMessage(
            content="",
            tool_calls=[{"name": "search", "args": {"query": "cats"}, "id": "call_1"}],
        ),
        ToolMessage(
            content=[{"type": "text", "text": "3 cats"}], tool_call_id="call_1"
        ),
        AIMessage("Found 3."),
        HumanMessage(content=["and ", {"type": "text", "text": "dogs?", "index": 1}]),
    ]
    await gpt.ainvoke(history)
    assert server.requests[0].json["messages"] == [
        {"role": "user", "content": "find cats"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"query": "cats"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "3 cats"},
        {"role": "assistant", "content": "Found 3."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and "},
                {"type": "text", "text": "dogs?"},
            ],
        },
    ]


async def test_reply_with_tool_calls_is_parsed(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 8,
        "total_tokens": 28,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    server.script(
        PATH,
        openai_completion(
            None,
            [
                ("call_1", "search", '{"query": "cats"}'),
                ("call_2", "search", '{"query": '),
            ],
            completion_id="chatcmpl-9",
            finish_reason="tool_calls",
            usage=usage,
        ),
    )
    reply = await gpt.ainvoke("find cats")
    assert reply.id == "chatcmpl-9"
    assert reply.content == ""
    assert reply.tool_calls == [
        {
            "name": "search",
            "args": {"query": "cats"},
            "id": "call_1",
            "type": "tool_call",
        }
    ]
    (invalid,) = reply.invalid_tool_calls
    assert invalid["id"] == "call_2"
    assert invalid["args"] == '{"query": '
    assert "not valid JSON" in (invalid["error"] or "")
    assert reply.usage_metadata == {
        "input_tokens": 20,
        "output_tokens": 8,
        "total_tokens": 28,
        "input_token_details": {"cache_read": 4},
        "output_token_details": {"reasoning": 2},
    }
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    assert reply.response_metadata["system_fingerprint"] == "fp_test"


async def test_no_choices_is_a_chat_model_error(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script(
        PATH,
        Reply(
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [],
            }
        ),
    )
    with pytest.raises(ChatModelError, match="no choices"):
        await gpt.ainvoke("hi")


async def test_bind_tools_converts_every_tool_format(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script(PATH, openai_completion("ok"))
    anthropic_style = {
        "name": "noop",
        "description": "Nothing.",
        "input_schema": {"type": "object", "properties": {}},
    }
    openai_style = {
        "type": "function",
        "function": {"name": "add", "parameters": {"type": "object"}},
    }
    await gpt.bind_tools(
        [search, anthropic_style, openai_style], tool_choice="search"
    ).ainvoke("hi")
    body = server.requests[0].json
    first = body["tools"][0]
    assert first["type"] == "function"
    assert first["function"]["name"] == "search"
    assert first["function"]["description"] == "Search the web."
    parameters = first["function"]["parameters"]
    assert parameters["required"] == ["query"]
    assert parameters["properties"]["query"] == {
        "type": "string",
        "description": "What to look for.",
    }
    assert parameters["properties"]["limit"] == {
        "type": "integer",
        "default": 3,
        "description": "How many results.",
    }
    assert parameters["properties"]["tags"]["anyOf"] == [
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
    assert body["tools"][1:] == [
        {
            "type": "function",
            "function": {
                "name": "noop",
                "description": "Nothing.",
                "parameters": anthropic_style["input_schema"],
            },
        },
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "",
                "parameters": {"type": "object"},
            },
        },
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "search"}}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [("auto", "auto"), ("any", "required"), ("required", "required"), ("none", "none")],
)
async def test_tool_choice_mapping(
    server: FakeLLMServer, gpt: ChatOpenAI, choice: str, sent: str
) -> None:
    server.script(PATH, openai_completion("ok"))
    await gpt.bind_tools([search], tool_choice=choice).ainvoke("hi")
    assert server.requests[0].json["tool_choice"] == sent


async def test_settings_and_per_call_options(server: FakeLLMServer) -> None:
    server.script(PATH, openai_completion("ok"))
    model = ChatOpenAI(
        "gpt-x",
        api_key="k",
        base_url=f"{server.url}/v1",
        max_tokens=64,
        temperature=0.0,
        model_kwargs={"seed": 7},
    )
    try:
        await model.ainvoke("hi", stop=["END"], top_p=0.5)
    finally:
        await model.aclose()
    body = server.requests[0].json
    assert body["model"] == "gpt-x"
    assert body["max_completion_tokens"] == 64
    assert body["temperature"] == 0.0
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["top_p"] == 0.5


async def test_env_vars_supply_key_and_base_url(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    server.script(PATH, openai_completion("ok"))
    model = ChatOpenAI()
    try:
        assert (await model.ainvoke("hi")).content == "ok"
    finally:
        await model.aclose()
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"
    assert server.requests[0].json["model"] == "gpt-4o-mini"


async def test_missing_api_key_is_a_chat_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = ChatOpenAI(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ChatModelError, match="OPENAI_API_KEY"):
        await model.ainvoke("hi")


async def test_stream_of_text_and_tool_calls(
    server: FakeLLMServer, gpt: ChatOpenAI
) -> None:
    server.script(
        PATH,
        openai_stream(
            ["Sure", "."],
            [
                ("call_1", "search", ['{"que', 'ry": "cats"}']),
                ("call_2", "search", ["{}"]),
            ],
            completion_id="chatcmpl-s",
            finish_reason="tool_calls",
            usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        ),
    )
    chunks = await drain(gpt, "hi")
    body = server.requests[0].json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert {c.id for c in chunks} == {"chatcmpl-s"}
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.content == "Sure."
    assert total.tool_calls == [
        {
            "name": "search",
            "args": {"query": "cats"},
            "id": "call_1",
            "type": "tool_call",
        },
        {"name": "search", "args": {}, "id": "call_2", "type": "tool_call"},
    ]
    assert total.usage_metadata == {
        "input_tokens": 9,
        "output_tokens": 4,
        "total_tokens": 13,
    }
    assert total.response_metadata["finish_reason"] == "tool_calls"
    assert total.response_metadata["model_name"] == "gpt-test"


async def test_stream_without_usage(server: FakeLLMServer) -> None:
    server.script(PATH, openai_stream(["x"]))
    model = ChatOpenAI(
        "gpt-test", api_key="k", base_url=f"{server.url}/v1", stream_usage=False
    )
    try:
        chunks = await drain(model, "hi")
    finally:
        await model.aclose()
    assert "stream_options" not in server.requests[0].json
    assert all(c.usage_metadata is None for c in chunks)


async def test_streamed_and_plain_replies_agree(
    server: FakeLLMServer, gpt: ChatOpenAI, messages_run: MessagesRun
) -> None:
    stream = openai_stream(
        ["It is "],
        [("call_1", "search", ['{"query": "x"}'])],
        finish_reason="tool_calls",
    )
    server.script(
        PATH,
        stream,
        openai_completion(
            "It is ",
            [("call_1", "search", '{"query": "x"}')],
            finish_reason="tool_calls",
        ),
    )
    streamed = await gpt.ainvoke("hi")
    messages_run.active = False
    plain = await gpt.ainvoke("hi")
    assert [r.json.get("stream") for r in server.requests] == [True, None]
    assert type(streamed) is type(plain) is AIMessage
    for message in (streamed, plain):
        assert message.content == "It is "
        assert message.tool_calls == [
            {
                "name": "search",
                "args": {"query": "x"},
                "id": "call_1",
                "type": "tool_call",
            }
        ]
        assert message.usage_metadata == {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
        }
        assert message.response_metadata["finish_reason"] == "tool_calls"
        assert message.id == "chatcmpl-1"


async def test_error_chunk_mid_stream(server: FakeLLMServer, gpt: ChatOpenAI) -> None:
    events = [
        sse({"id": "c", "model": "m", "choices": []}),
        sse({"error": {"message": "server overloaded"}}),
        sse("[DONE]"),
    ]
    server.script(PATH, Reply(events=events))
    with pytest.raises(ChatModelError, match="server overloaded"):
        await drain(gpt, "hi")
