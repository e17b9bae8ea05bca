"""ChatAnthropic: what goes over the wire to /v1/messages, and what comes back."""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal

import pytest

from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from runtime.models import ChatAnthropic, ChatModelError
from tests.fake_llm_servers import Reply, anthropic_message, anthropic_stream, sse

if TYPE_CHECKING:
    from tests.fake_llm_servers import FakeLLMServer

    from .conftest import MessagesRun

PATH = "/v1/messages"


def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather.

    Args:
        city: The city to look up.
        unit (str): Temperature unit.

    Returns:
        A description.
    """
    return city + unit


async def _drain(model: ChatAnthropic) -> list[AIMessageChunk]:
    async with aclosing(model.astream("hi")) as stream:
        return [chunk async for chunk in stream]


async def test_request_shape_and_headers(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, anthropic_message("ok"))
    await claude.ainvoke([SystemMessage("Be brief."), ("user", "hi")])
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer sk-ant"
    assert request.json == {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
    }


async def test_conversation_with_tool_round_trip(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, anthropic_message("done"))
    history = [
        SystemMessage("rule one"),
        HumanMessage("weather?"),
        SystemMessage("rule two"),
        AIMessage(
            content="Let me check.",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Oslo"}, "id": "tu_1"}
            ],
        ),
        ToolMessage("cold", tool_call_id="tu_1"),
        ToolMessage("unavailable", tool_call_id="tu_2", status="error"),
        {"role": "user", "content": [{"type": "text", "text": "thanks", "index": 0}]},
    ]
    await claude.ainvoke(history)
    body = server.requests[0].json
    assert body["system"] == "rule one\n\nrule two"
    assert body["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "tu_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu_1", "content": "cold"},
                {
                    "type": "tool_result",
                    "tool_use_id": "tu_2",
                    "content": "unavailable",
                    "is_error": True,
                },
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


async def test_system_blocks_with_extra_keys_stay_blocks(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, anthropic_message("ok"))
    cached = {
        "type": "text",
        "text": "long rules",
        "cache_control": {"type": "ephemeral"},
    }
    await claude.ainvoke([SystemMessage(content=[cached]), HumanMessage("hi")])
    assert server.requests[0].json["system"] == [cached]


async def test_reply_with_tool_calls_is_parsed(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    usage = {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 2}
    server.script(
        PATH,
        anthropic_message(
            "Checking.",
            [("tu_9", "get_weather", {"city": "Rome"})],
            msg_id="msg_42",
            stop_reason="tool_use",
            usage=usage,
        ),
    )
    reply = await claude.ainvoke("weather in Rome?")
    assert reply.id == "msg_42"
    assert reply.content == "Checking."
    assert reply.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Rome"},
            "id": "tu_9",
            "type": "tool_call",
        }
    ]
    assert reply.usage_metadata == {
        "input_tokens": 9,
        "output_tokens": 3,
        "total_tokens": 12,
        "input_token_details": {"cache_read": 2, "cache_creation": 0},
    }
    assert reply.response_metadata["stop_reason"] == "tool_use"
    assert reply.response_metadata["model_name"] == "claude-test"


async def test_thinking_blocks_keep_list_content_and_round_trip(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    server.script(
        PATH,
        anthropic_message("answer", extra_blocks=[thinking]),
        anthropic_message("next"),
    )
    reply = await claude.ainvoke("q")
    assert reply.content == [thinking, {"type": "text", "text": "answer"}]
    assert reply.text == "answer"
    await claude.ainvoke(["q", reply, "more"])
    assert server.requests[1].json["messages"][1] == {
        "role": "assistant",
        "content": [thinking, {"type": "text", "text": "answer"}],
    }


async def test_bind_tools_converts_every_tool_format(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, anthropic_message("ok"), anthropic_message("ok"))
    openai_style = {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    anthropic_style = {
        "name": "noop",
        "input_schema": {"type": "object", "properties": {}},
    }
    bound = claude.bind_tools(
        [get_weather, openai_style, anthropic_style], tool_choice="get_weather"
    )
    await bound.ainvoke("hi")
    body = server.requests[0].json
    weather = body["tools"][0]
    assert weather["name"] == "get_weather"
    assert weather["description"] == "Get the current weather."
    assert weather["input_schema"]["required"] == ["city"]
    assert weather["input_schema"]["properties"]["city"] == {
        "type": "string",
        "description": "The city to look up.",
    }
    assert weather["input_schema"]["properties"]["unit"]["enum"] == ["c", "f"]
    assert weather["input_schema"]["properties"]["unit"]["default"] == "c"
    assert body["tools"][1:] == [
        {
            "name": "add",
            "description": "Add.",
            "input_schema": {"type": "object", "properties": {}},
        },
        anthropic_style,
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    await claude.ainvoke("hi")  # the original model has no tools
    assert "tools" not in server.requests[1].json


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("any", {"type": "any"}),
        ("required", {"type": "any"}),
        ({"type": "none"}, {"type": "none"}),
    ],
)
async def test_tool_choice_mapping(
    server: FakeLLMServer, claude: ChatAnthropic, choice: Any, sent: dict[str, str]
) -> None:
    server.script(PATH, anthropic_message("ok"))
    await claude.bind_tools([get_weather], tool_choice=choice).ainvoke("hi")
    assert server.requests[0].json["tool_choice"] == sent


async def test_settings_and_per_call_options(server: FakeLLMServer) -> None:
    server.script(PATH, anthropic_message("ok"))
    model = ChatAnthropic(
        "claude-x",
        api_key="k",
        base_url=server.url,
        max_tokens=77,
        temperature=0.3,
        model_kwargs={"metadata": {"user_id": "u1"}},
    )
    try:
        await model.ainvoke(
            "hi", None, stop=["END"], tools=[get_weather], tool_choice="any"
        )
    finally:
        await model.aclose()
    body = server.requests[0].json
    assert body["model"] == "claude-x"
    assert body["max_tokens"] == 77
    assert body["temperature"] == 0.3
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u1"}
    assert [t["name"] for t in body["tools"]] == ["get_weather"]
    assert body["tool_choice"] == {"type": "any"}


async def test_env_vars_supply_key_and_base_url(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    server.script(PATH, anthropic_message("ok"))
    model = ChatAnthropic("claude-test")
    try:
        assert (await model.ainvoke("hi")).content == "ok"
    finally:
        await model.aclose()
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"


async def test_stream_of_text_and_tool_use(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(
        PATH,
        anthropic_stream(
            ["Let me ", "look."],
            [("tu_1", "get_weather", ['{"city"', ': "Oslo"}']), ("tu_2", "noop", [])],
            msg_id="msg_s",
            stop_reason="tool_use",
            input_tokens=12,
            output_tokens=30,
        ),
    )
    async with aclosing(claude.astream("hi")) as stream:
        chunks = [chunk async for chunk in stream]
    assert {c.id for c in chunks} == {"msg_s"}
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.content == "Let me look."
    assert total.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Oslo"},
            "id": "tu_1",
            "type": "tool_call",
        },
        {"name": "noop", "args": {}, "id": "tu_2", "type": "tool_call"},
    ]
    assert [c["index"] for c in total.tool_call_chunks] == [1, 2]
    assert total.usage_metadata == {
        "input_tokens": 12,
        "output_tokens": 30,
        "total_tokens": 42,
    }
    assert total.response_metadata["stop_reason"] == "tool_use"
    assert total.response_metadata["model"] == "claude-test"


async def test_streamed_and_plain_replies_agree(
    server: FakeLLMServer, claude: ChatAnthropic, messages_run: MessagesRun
) -> None:
    call = ("tu_1", "get_weather", {"city": "Oslo"})
    server.script(
        PATH,
        anthropic_stream(
            ["It is "], [(*call[:2], ['{"city": "Oslo"}'])], stop_reason="tool_use"
        ),
        anthropic_message("It is ", [call], stop_reason="tool_use"),
    )
    streamed = await claude.ainvoke("hi")  # inside a "messages" run: streams
    messages_run.active = False
    plain = await claude.ainvoke("hi")
    assert [r.json.get("stream") for r in server.requests] == [True, None]
    assert messages_run.chunks
    assert all(isinstance(c, AIMessageChunk) for c in messages_run.chunks)
    assert type(streamed) is type(plain) is AIMessage
    for message in (streamed, plain):
        assert message.content == "It is "
        assert message.tool_calls == [
            {
                "name": "get_weather",
                "args": {"city": "Oslo"},
                "id": "tu_1",
                "type": "tool_call",
            }
        ]
        assert message.usage_metadata == {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
        }
        assert message.response_metadata["stop_reason"] == "tool_use"
        assert message.id == "msg_1"


async def test_error_event_mid_stream(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    events = [
        sse(
            {
                "type": "message_start",
                "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}},
            },
            "message_start",
        ),
        sse(
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            },
            "error",
        ),
    ]
    server.script(PATH, Reply(events=events))
    with pytest.raises(ChatModelError, match=r"overloaded_error.*Overloaded"):
        await _drain(claude)


async def test_malformed_event_data_is_a_chat_model_error(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, Reply(events=[sse("{not json", "message_start")]))
    with pytest.raises(ChatModelError, match="JSONDecodeError"):
        await _drain(claude)


async def test_text_in_a_block_start_is_kept(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    start = {"id": "m", "model": "c", "usage": {"input_tokens": 1}}
    events = [
        sse({"type": "message_start", "message": start}, "message_start"),
        sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": "Hi"},
            }
        ),
        sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "!"},
            }
        ),
        sse(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "thinking", "thinking": ""},
            }
        ),
        sse(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "thinking_delta", "thinking": "x"},
            }
        ),
        sse({"type": "message_stop"}),
    ]
    server.script(PATH, Reply(events=events))
    chunks = await _drain(claude)
    assert "".join(c.text for c in chunks) == "Hi!"


async def test_a_string_stop_becomes_a_list(
    server: FakeLLMServer, claude: ChatAnthropic
) -> None:
    server.script(PATH, anthropic_message("ok"))
    await claude.ainvoke("hi", stop="END")
    assert server.requests[0].json["stop_sequences"] == ["END"]
