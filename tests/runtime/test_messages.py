"""Message structs, chunk addition, coercion and the add_messages reducer."""

from __future__ import annotations

import copy
import uuid
from types import SimpleNamespace

import msgspec
import pytest

from runtime._add_messages import add_messages
from runtime._message_coercion import coerce_message
from runtime._messages import (
    MESSAGE_DECODER,
    MESSAGE_JSON_DECODER,
    MESSAGE_TYPES,
    MESSAGES_DECODER,
    REMOVE_ALL_MESSAGES,
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    message_chunk_to_message,
)

SAMPLES = [
    HumanMessage("hi", id="h1", name="ann"),
    HumanMessage(
        content=[{"type": "text", "text": "look"}, {"type": "image", "url": "x"}],
        id="h2",
    ),
    SystemMessage("be brief", id="s1"),
    AIMessage(
        content="calling",
        id="a1",
        tool_calls=[
            {"name": "f", "args": {"x": [1, 2]}, "id": "c1", "type": "tool_call"}
        ],
        invalid_tool_calls=[
            {
                "name": "g",
                "args": "{",
                "id": "c2",
                "error": "bad",
                "type": "invalid_tool_call",
            }
        ],
        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        response_metadata={"model": "m", "stop_reason": "tool_use"},
        additional_kwargs={"k": {"nested": True}},
    ),
    ToolMessage(
        "42", tool_call_id="c1", id="t1", status="error", artifact={"raw": [1]}
    ),
    RemoveMessage(id="a1"),
    AIMessageChunk(
        content="par",
        id="ch1",
        tool_call_chunks=[{"name": "f", "args": '{"a": 1}', "id": "c9", "index": 0}],
    ),
]


def test_type_names_match_langchain() -> None:
    assert [m.type for m in SAMPLES] == [
        "human",
        "human",
        "system",
        "ai",
        "tool",
        "remove",
        "AIMessageChunk",
    ]
    assert {cls.type for cls in MESSAGE_TYPES} == {
        "human",
        "ai",
        "system",
        "tool",
        "remove",
        "AIMessageChunk",
    }


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.type)
def test_msgpack_round_trip_through_module_decoder(message: object) -> None:
    decoded = MESSAGE_DECODER.decode(msgspec.msgpack.encode(message))
    assert decoded == message
    assert type(decoded) is type(message)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.type)
def test_json_round_trip_and_wire_tag(message: object) -> None:
    raw = msgspec.json.encode(message)
    assert msgspec.json.decode(raw)["type"] == message.type  # type: ignore[attr-defined]
    assert MESSAGE_JSON_DECODER.decode(raw) == message


def test_list_decoder_round_trips_a_history() -> None:
    assert MESSAGES_DECODER.decode(msgspec.msgpack.encode(SAMPLES)) == SAMPLES


def test_decoder_tolerates_unknown_and_missing_fields() -> None:
    # An older writer (no optional fields) and a newer one (an unknown field).
    old = msgspec.msgpack.encode({"type": "ai", "content": "x"})
    new = msgspec.msgpack.encode({"type": "tool", "tool_call_id": "c", "future": 1})
    assert MESSAGE_DECODER.decode(old) == AIMessage("x")
    assert MESSAGE_DECODER.decode(new) == ToolMessage(tool_call_id="c")


def test_decoder_rejects_unknown_tag_and_bad_types() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'robot'"):
        MESSAGE_DECODER.decode(msgspec.msgpack.encode({"type": "robot"}))
    bad = {"type": "ai", "tool_calls": [{"name": 1, "args": {}, "id": None}]}
    with pytest.raises(msgspec.ValidationError, match="tool_calls"):
        MESSAGE_DECODER.decode(msgspec.msgpack.encode(bad))


def test_messages_are_frozen_and_keyword_only_after_content() -> None:
    message = HumanMessage("hi")
    with pytest.raises(AttributeError):
        message.content = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        HumanMessage("hi", "id")  # type: ignore[misc]
    with pytest.raises(TypeError, match="tool_call_id"):
        ToolMessage("x")  # type: ignore[call-arg]
    assert isinstance(AIMessageChunk(), AIMessage)


def test_text_joins_text_blocks_only() -> None:
    message = AIMessage(
        content=["a", {"type": "text", "text": "b"}, {"type": "tool_use", "text": "no"}]
    )
    assert message.text == "ab"
    assert HumanMessage("plain").text == "plain"


def test_chunks_add_like_langchain() -> None:
    first = AIMessageChunk(
        content="Hel",
        id="run-1",
        response_metadata={"model": "m"},
        tool_call_chunks=[{"name": "search", "args": '{"q": ', "id": "c1", "index": 0}],
        usage_metadata={"input_tokens": 5, "output_tokens": 0, "total_tokens": 5},
    )
    second = AIMessageChunk(
        content="lo",
        id="run-2",
        response_metadata={"stop_reason": "tool_use", "model": None},
        tool_call_chunks=[
            {"name": None, "args": '"x"}', "id": None, "index": 0},
            {"name": "other", "args": "", "id": "c2", "index": 1},
        ],
        usage_metadata={
            "input_tokens": 0,
            "output_tokens": 7,
            "total_tokens": 7,
            "output_token_details": {"reasoning": 2},
        },
    )
    total = first + second
    assert total.content == "Hello"
    assert total.id == "run-1"
    assert total.response_metadata == {"model": "m", "stop_reason": "tool_use"}
    assert total.tool_call_chunks == [
        {"name": "search", "args": '{"q": "x"}', "id": "c1", "index": 0},
        {"name": "other", "args": "", "id": "c2", "index": 1},
    ]
    assert total.tool_calls == [
        {"name": "search", "args": {"q": "x"}, "id": "c1", "type": "tool_call"},
        {"name": "other", "args": {}, "id": "c2", "type": "tool_call"},
    ]
    assert total.invalid_tool_calls == []
    assert total.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 7,
        "total_tokens": 12,
        "output_token_details": {"reasoning": 2},
    }
    assert first.content == "Hel"  # operands untouched


def test_partial_tool_arguments_are_invalid_until_complete() -> None:
    chunk = AIMessageChunk(
        tool_call_chunks=[{"name": "f", "args": '{"a', "id": "c", "index": 0}]
    )
    assert chunk.tool_calls == []
    assert chunk.invalid_tool_calls[0]["name"] == "f"
    assert "not valid JSON" in (chunk.invalid_tool_calls[0]["error"] or "")
    nameless = AIMessageChunk(
        tool_call_chunks=[{"name": None, "args": "{}", "id": None, "index": 0}]
    )
    assert nameless.invalid_tool_calls[0]["error"] == "tool call has no name"
    array = AIMessageChunk(
        tool_call_chunks=[{"name": "f", "args": "[1]", "id": None, "index": 0}]
    )
    assert array.invalid_tool_calls[0]["error"] == "args are not a JSON object"


def test_block_content_merges_by_index() -> None:
    left = AIMessageChunk(content=[{"type": "text", "text": "a", "index": 0}])
    right = AIMessageChunk(
        content=[
            {"type": "text", "text": "b", "index": 0},
            {"type": "text", "text": "c", "index": 1},
        ]
    )
    assert (left + right).content == [
        {"type": "text", "text": "ab", "index": 0},
        {"type": "text", "text": "c", "index": 1},
    ]
    assert (AIMessageChunk(content="x") + right).content == ["x", *right.content]
    assert (AIMessageChunk(content=["x"]) + AIMessageChunk(content="y")).content == [
        "xy"
    ]


def test_chunks_without_tool_call_chunks_concatenate_tool_calls() -> None:
    call = {"name": "f", "args": {}, "id": "1", "type": "tool_call"}
    total = AIMessageChunk(tool_calls=[call]) + AIMessageChunk(tool_calls=[call])  # type: ignore[list-item]
    assert len(total.tool_calls) == 2
    assert (AIMessageChunk() + AIMessageChunk()).usage_metadata is None


def test_chunk_plus_other_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        AIMessageChunk() + AIMessage()  # type: ignore[operator]


def test_message_chunk_to_message() -> None:
    chunk = AIMessageChunk(
        content="x",
        id="1",
        tool_call_chunks=[{"name": "f", "args": "{}", "id": "c", "index": 0}],
    )
    message = message_chunk_to_message(chunk)
    assert type(message) is AIMessage
    assert message.tool_calls == chunk.tool_calls
    human = HumanMessage("h")
    assert message_chunk_to_message(human) is human


# coerce_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hi", HumanMessage("hi")),
        (("user", "hi"), HumanMessage("hi")),
        (("human", "hi"), HumanMessage("hi")),
        (("assistant", "yo"), AIMessage("yo")),
        (("ai", "yo"), AIMessage("yo")),
        (("system", "rules"), SystemMessage("rules")),
        (
            {"role": "user", "content": "hi", "id": "1", "name": "n"},
            HumanMessage("hi", id="1", name="n"),
        ),
        ({"role": "developer", "content": "rules"}, SystemMessage("rules")),
        ({"type": "human", "content": "hi"}, HumanMessage("hi")),
        (
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            ToolMessage("42", tool_call_id="c1"),
        ),
        ({"role": "remove", "id": "x", "content": ""}, RemoveMessage(id="x")),
    ],
)
def test_coerce_accepted_shapes(value: object, expected: object) -> None:
    assert coerce_message(value) == expected


def test_coerce_returns_our_messages_unchanged() -> None:
    for message in SAMPLES:
        assert coerce_message(message) is message


def test_coerce_openai_and_langchain_tool_call_dicts() -> None:
    openai_style = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "f", "arguments": '{"a": 1}'},
            }
        ],
    }
    langchain_style = {
        "role": "ai",
        "content": "",
        "tool_calls": [{"name": "f", "args": {"a": 1}, "id": "c1"}],
    }
    expected = [{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]
    assert coerce_message(openai_style).tool_calls == expected  # type: ignore[union-attr]
    assert coerce_message(langchain_style).tool_calls == expected  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="needs a 'name'"):
        coerce_message({"role": "ai", "content": "", "tool_calls": [{"args": {}}]})


def test_coerce_keeps_unknown_dict_keys_in_additional_kwargs() -> None:
    message = coerce_message(
        {"role": "user", "content": "hi", "refusal": None, "extra": 1}
    )
    assert message.additional_kwargs == {"refusal": None, "extra": 1}


def test_coerce_langchain_like_objects() -> None:
    ai = SimpleNamespace(
        type="ai",
        content="x",
        id="7",
        tool_calls=[{"name": "f", "args": {}, "id": "c"}],
        usage_metadata={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        response_metadata={},
        additional_kwargs={},
        name=None,
        invalid_tool_calls=[],
    )
    message = coerce_message(ai)
    assert isinstance(message, AIMessage)
    assert message.id == "7"
    assert message.tool_calls[0]["type"] == "tool_call"
    assert message.usage_metadata == ai.usage_metadata
    tool = coerce_message(
        SimpleNamespace(type="tool", content="r", tool_call_id="c", status="success")
    )
    assert tool == ToolMessage("r", tool_call_id="c")


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (("wizard", "hi"), ValueError, "unknown message role 'wizard'"),
        ({"content": "hi"}, ValueError, "needs a 'role'"),
        ({"role": "user"}, ValueError, "needs a 'content' key"),
        ({"role": "tool", "content": "x"}, ValueError, "tool_call_id"),
        ({"role": "remove", "content": ""}, ValueError, "needs an 'id'"),
        ({"role": "user", "content": 5}, TypeError, "content must be a str or a list"),
        (42, TypeError, "cannot turn int into a message"),
        (("user", "a", "b"), TypeError, "cannot turn tuple"),
        (
            SimpleNamespace(type="alien", content="x"),
            ValueError,
            "unknown message role",
        ),
    ],
)
def test_coerce_rejects_bad_input(
    value: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        coerce_message(value)


# add_messages


def test_add_messages_appends_and_assigns_uuid_ids() -> None:
    merged = add_messages([HumanMessage("a")], AIMessage("b"))
    assert [m.content for m in merged] == ["a", "b"]
    for message in merged:
        parsed = uuid.UUID(message.id or "")
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == message.id  # canonical lower-case 8-4-4-4-12 form
    many = add_messages([], [HumanMessage(str(i)) for i in range(1000)])
    assert len({m.id for m in many}) == 1000


def test_add_messages_keeps_a_history_it_already_merged_as_is() -> None:
    history = add_messages([], [HumanMessage("a"), AIMessage("b")])
    again = add_messages(history, [("user", "c")])
    assert again[:2] == history and all(
        x is y for x, y in zip(again[:2], history, strict=True)
    )
    assert again[2].id is not None and again[2].content == "c"


def test_add_messages_replaces_by_id_in_place() -> None:
    left = [
        HumanMessage("a", id="1"),
        AIMessage("b", id="2"),
        HumanMessage("c", id="3"),
    ]
    merged = add_messages(left, [AIMessage("B", id="2"), HumanMessage("d", id="4")])
    assert [(m.id, m.content) for m in merged] == [
        ("1", "a"),
        ("2", "B"),
        ("3", "c"),
        ("4", "d"),
    ]


def test_add_messages_removes_by_id() -> None:
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    merged = add_messages(left, RemoveMessage(id="1"))
    assert [m.id for m in merged] == ["2"]


def test_add_messages_remove_then_re_add_keeps_the_message() -> None:
    left = [HumanMessage("a", id="1")]
    merged = add_messages(left, [RemoveMessage(id="1"), HumanMessage("again", id="1")])
    assert [(m.id, m.content) for m in merged] == [("1", "again")]


def test_add_messages_removing_a_missing_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot remove message 'nope'"):
        add_messages([HumanMessage("a", id="1")], RemoveMessage(id="nope"))


def test_add_messages_remove_all_drops_everything_before_it() -> None:
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    right = [
        HumanMessage("x"),
        RemoveMessage(id=REMOVE_ALL_MESSAGES),
        HumanMessage("fresh", id="9"),
    ]
    assert add_messages(left, right) == [HumanMessage("fresh", id="9")]
    assert add_messages(left, RemoveMessage(id=REMOVE_ALL_MESSAGES)) == []


def test_add_messages_does_not_mutate_inputs() -> None:
    left = [HumanMessage("a"), ("user", "b")]
    right = [AIMessage("c", id="2")]
    snapshot = (copy.deepcopy(left), copy.deepcopy(right))
    merged = add_messages(left, right)
    assert (left, right) == snapshot
    assert left[0].id is None  # type: ignore[union-attr]
    assert merged is not left
    assert len(merged) == 3


def test_add_messages_accepts_none_single_values_and_message_likes() -> None:
    merged = add_messages(None, ("user", "hi"))
    assert isinstance(merged[0], HumanMessage)
    merged = add_messages("first", {"role": "assistant", "content": "second"})
    assert [m.type for m in merged] == ["human", "ai"]
    assert add_messages(None, []) == []


def test_add_messages_turns_chunks_into_messages() -> None:
    chunk = AIMessageChunk(
        content="x",
        id="c",
        tool_call_chunks=[{"name": "f", "args": "{}", "id": "t", "index": 0}],
    )
    (message,) = add_messages(None, chunk)
    assert type(message) is AIMessage
    assert message.tool_calls[0]["name"] == "f"  # type: ignore[union-attr]


def test_add_messages_rejects_bad_values() -> None:
    with pytest.raises(TypeError, match="cannot turn"):
        add_messages([], [object()])
