"""The shared pieces: tool specs, prompt coercion, the SSE reader, error translation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import httpx2
import msgspec
import pytest

from runtime._messages import AIMessage, HumanMessage, SystemMessage
from runtime.models import ChatModelError, ToolSpec, to_tool_spec
from runtime.models._base import coerce_messages, sse_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class Handle:
    """Not a type msgspec can describe."""


class Point(msgspec.Struct):
    x: int
    y: int


def plot(
    points: list[Point],
    color: Literal["red", "blue"] = "red",
    *,
    title: str | None = None,
) -> None:
    """Plot some points.

    Longer text is part of the summary too: it keeps every paragraph
    before the argument section.

    Args:
        points: Where to draw.
        color (str): Pen colour.
            Continuation lines are ignored.

    Raises:
        ValueError: never.
    """


def test_function_tools_get_a_json_schema() -> None:
    spec = to_tool_spec(plot)
    assert spec.name == "plot"
    assert spec.description.startswith("Plot some points.\n\nLonger text")
    assert "Args" not in spec.description
    assert "Raises" not in spec.description
    schema = spec.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["points"]
    assert schema["properties"]["points"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Point"},
        "description": "Where to draw.",
    }
    assert schema["properties"]["color"] == {
        "enum": ["blue", "red"],
        "default": "red",
        "description": "Pen colour.",
    }
    assert schema["properties"]["title"]["default"] is None
    assert schema["$defs"]["Point"]["required"] == ["x", "y"]
    assert "title" not in schema


def test_a_function_without_hints_or_docstring_still_works() -> None:
    def ping(host, port=80):  # type: ignore[no-untyped-def]
        return host, port

    spec = to_tool_spec(ping)  # type: ignore[arg-type]
    assert spec == ToolSpec("ping", "", spec.parameters)
    assert spec.parameters["required"] == ["host"]
    assert spec.parameters["properties"]["port"] == {"default": 80}


def test_dict_tools_in_both_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    openai_style = {
        "type": "function",
        "function": {"name": "f", "description": "F.", "parameters": schema},
    }
    bare_function = {"name": "f", "description": "F.", "parameters": schema}
    anthropic_style = {"name": "f", "description": "F.", "input_schema": schema}
    expected = ToolSpec("f", "F.", schema)
    assert to_tool_spec(openai_style) == expected
    assert to_tool_spec(bare_function) == expected
    assert to_tool_spec(anthropic_style) == expected


@pytest.mark.parametrize(
    ("tool", "error", "match"),
    [
        ({"name": "f"}, ValueError, "input_schema"),
        (
            {"type": "function", "function": {"parameters": {}}},
            ValueError,
            "a tool dict needs",
        ),
        (42, TypeError, "cannot use int as a tool"),
    ],
)
def test_bad_tools_are_rejected(tool: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_tool_spec(tool)


def test_functions_that_cannot_be_described_are_type_errors() -> None:
    def variadic(*args: int) -> None: ...

    def takes_handle(handle: Handle) -> None: ...

    def takes_anything(value: Any, point: Point) -> None: ...

    def bad_hint(x: Undefined) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="'variadic' has no JSON schema"):
        to_tool_spec(variadic)
    with pytest.raises(TypeError, match="'bad_hint' has no JSON schema"):
        to_tool_spec(bad_hint)
    with pytest.raises(TypeError, match="'takes_handle' has no JSON schema"):
        to_tool_spec(takes_handle)
    assert to_tool_spec(takes_anything).parameters["required"] == ["value", "point"]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("hi", [HumanMessage("hi")]),
        (("system", "rules"), [SystemMessage("rules")]),
        ({"role": "user", "content": "hi"}, [HumanMessage("hi")]),
        (HumanMessage("hi"), [HumanMessage("hi")]),
        (["a", ("ai", "b")], [HumanMessage("a"), AIMessage("b")]),
        ((("user", "a"), ("user", "b")), [HumanMessage("a"), HumanMessage("b")]),
        ([], []),
    ],
)
def test_coerce_messages(prompt: Any, expected: list[Any]) -> None:
    assert coerce_messages(prompt) == expected


async def _pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_sse_reader_handles_split_lines_crlf_comments_and_a_missing_final_blank() -> (
    None
):
    body = _pieces(
        b'event: message_start\r\ndata: {"a"',
        b": 1}\r\n\r\n: keep-alive comment\n\n",
        b"data: line one\ndata:line two\n\n",
        b"event: ping\n\n",
        b"data: [DONE]",
    )
    response = httpx2.Response(200, content=body)
    events = [data async for data in sse_events(response)]
    assert events == ['{"a": 1}', "line one\nline two", "[DONE]"]


def test_chat_model_error_translation() -> None:
    request = httpx2.Request("POST", "http://x/v1/messages")

    class FakeStatusError(Exception):
        status_code = 404
        message = "model not found"

    error = ChatModelError.from_exception("anthropic", FakeStatusError())
    assert error.status_code == 404
    assert error.provider == "anthropic"
    assert (
        str(error)
        == "anthropic request failed (HTTP 404): model not found; check the model and base_url"
    )
    connection = ChatModelError.from_exception(
        "openai", httpx2.ConnectError("refused", request=request)
    )
    assert connection.status_code is None
    assert (
        "(ConnectError): refused; check base_url and the server, or retry later"
        in str(connection)
    )
