"""The Messages API JSON that ChatAnthropic reads, as TypedDicts.

A response body comes from the SDK (``response.to_dict(mode="json")``); a
stream is ``json.loads`` of each server-sent event, one of ``StreamEvent``
by its ``type``. Content blocks and deltas stay open JSON objects: their
keys depend on their own ``type``, and blocks other than ``tool_use`` pass
into the message's content unchanged. Only the keys the adapter reads are
listed; the server decides what is there, so most are optional.
"""

from __future__ import annotations

from typing import Any, Literal, Required, TypeAlias, TypedDict

Block: TypeAlias = dict[str, Any]
"""A content block: ``{"type": "text", "text"}``, ``{"type": "tool_use", "id", "name", "input"}``, ..."""


class Usage(TypedDict, total=False):
    input_tokens: int | None
    output_tokens: int | None
    cache_read_input_tokens: int | None
    cache_creation_input_tokens: int | None


class Response(TypedDict, total=False):
    """A Messages API response, or the ``message`` of a ``message_start`` event."""

    id: str | None
    model: str | None
    content: list[Block] | None
    stop_reason: str | None
    stop_sequence: str | None
    usage: Usage | None


class MessageStart(TypedDict):
    type: Literal["message_start"]
    message: Response


class ContentBlockStart(TypedDict):
    type: Literal["content_block_start"]
    index: int
    content_block: Block


class ContentBlockDelta(TypedDict):
    """``delta`` is ``{"type": "text_delta", "text"}`` or ``{"type": "input_json_delta", "partial_json"}``, ..."""

    type: Literal["content_block_delta"]
    index: int
    delta: dict[str, Any]


class StopDelta(TypedDict, total=False):
    stop_reason: str | None
    stop_sequence: str | None


class MessageDelta(TypedDict, total=False):
    type: Required[Literal["message_delta"]]
    delta: StopDelta | None
    usage: Usage | None


class ErrorBody(TypedDict, total=False):
    type: str
    message: str | None


class ErrorEvent(TypedDict, total=False):
    type: Required[Literal["error"]]
    error: ErrorBody | None


class OtherEvent(TypedDict):
    """Events that carry nothing for a chunk."""

    type: Literal["ping", "content_block_stop", "message_stop"]


StreamEvent: TypeAlias = (
    MessageStart
    | ContentBlockStart
    | ContentBlockDelta
    | MessageDelta
    | ErrorEvent
    | OtherEvent
)
