"""Chat messages shaped like LangChain's, as frozen msgspec Structs, plus ``add_messages``.

Messages live in checkpoints: one tagged union whose tags are LangChain's
``type`` names, never renamed; new fields always get defaults (STYLE rule 16).
``content`` may be positional (``HumanMessage("hi")``); other fields are keyword-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import (
    Any,
    ClassVar,
    Literal,
    NotRequired,
    TypeAlias,
    TypedDict,
    TypeGuard,
    cast,
    overload,
)

import msgspec

from ._pretty import pretty_print, pretty_repr

REMOVE_ALL_MESSAGES = "__remove_all__"

Content: TypeAlias = str | list[str | dict[str, Any]]


class ToolCall(TypedDict):
    """A parsed tool call requested by the model."""

    name: str
    args: dict[str, Any]
    id: str | None
    type: NotRequired[Literal["tool_call"]]


class ToolCallChunk(TypedDict):
    """A piece of a streamed tool call; pieces with the same ``index`` add up."""

    name: str | None
    args: str | None
    id: str | None
    index: int | None
    type: NotRequired[Literal["tool_call_chunk"]]


class InvalidToolCall(TypedDict):
    """A tool call whose arguments were not valid JSON."""

    name: str | None
    args: str | None
    id: str | None
    error: str | None
    type: NotRequired[Literal["invalid_tool_call"]]


class UsageMetadata(TypedDict):
    """Token counts of one model call."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: NotRequired[dict[str, int]]
    output_token_details: NotRequired[dict[str, int]]


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    return text if block.get("type") == "text" and isinstance(text, str) else ""


class _Content(
    msgspec.Struct, frozen=True, omit_defaults=True, tag_field="type", gc=False
):
    content: Content = ""


class BaseMessage(_Content, frozen=True, kw_only=True):
    """Fields shared by every message; not a member of the persisted union."""

    id: str | None = None
    name: str | None = None
    additional_kwargs: dict[str, Any] = {}
    response_metadata: dict[str, Any] = {}
    type: ClassVar[str] = "base"

    @property
    def text(self) -> str:
        """The content as plain text: text blocks joined, other blocks skipped."""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            b if isinstance(b, str) else _block_text(b) for b in self.content
        )

    def pretty_repr(self, html: bool = False) -> str:
        """A titled text block of the message, exactly as LangChain's ``pretty_repr``."""
        return pretty_repr(self, html)

    def pretty_print(self) -> None:
        """Print ``pretty_repr()`` (LangChain's ``pretty_print``)."""
        pretty_print(self)


class HumanMessage(BaseMessage, frozen=True, kw_only=True, tag="human"):
    """A message from the user."""

    type: ClassVar[str] = "human"


class SystemMessage(BaseMessage, frozen=True, kw_only=True, tag="system"):
    """Instructions for the model."""

    type: ClassVar[str] = "system"


class AIMessage(BaseMessage, frozen=True, kw_only=True, tag="ai"):
    """A model reply, possibly with tool calls and token usage."""

    tool_calls: list[ToolCall] = []
    invalid_tool_calls: list[InvalidToolCall] = []
    usage_metadata: UsageMetadata | None = None
    type: ClassVar[str] = "ai"


class ToolMessage(BaseMessage, frozen=True, kw_only=True, tag="tool"):
    """The result of running a tool call, answering ``tool_call_id``."""

    tool_call_id: str
    status: Literal["success", "error"] = "success"
    artifact: Any = None
    type: ClassVar[str] = "tool"


class RemoveMessage(BaseMessage, frozen=True, kw_only=True, tag="remove"):
    """Tells ``add_messages`` to delete the message ``id`` (or all, with REMOVE_ALL_MESSAGES)."""

    id: str  # pyright: ignore[reportGeneralTypeIssues]  # required here: a removal must name its target
    type: ClassVar[str] = "remove"


class AIMessageChunk(AIMessage, frozen=True, kw_only=True, tag="AIMessageChunk"):
    """A streamed piece of an AIMessage; chunks add up with ``+``.

    When ``tool_call_chunks`` is set, ``tool_calls`` and ``invalid_tool_calls``
    are derived from it (arguments that are not yet valid JSON are invalid).
    """

    tool_call_chunks: list[ToolCallChunk] = []
    type: ClassVar[str] = "AIMessageChunk"

    def __post_init__(self) -> None:
        if self.tool_call_chunks:
            calls, invalid = parse_tool_calls(
                (c.get("name"), c.get("args"), c.get("id"))
                for c in self.tool_call_chunks
            )
            msgspec.structs.force_setattr(self, "tool_calls", calls)
            msgspec.structs.force_setattr(self, "invalid_tool_calls", invalid)

    def __add__(self, other: object) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        meta = {k: v for k, v in other.response_metadata.items() if v is not None}
        fields: dict[str, Any] = {
            "content": _merge_content(self.content, other.content),
            "id": other.id if self.id is None else self.id,
            "name": other.name if self.name is None else self.name,
            "additional_kwargs": _merge_dicts(
                self.additional_kwargs, other.additional_kwargs
            ),
            "response_metadata": {**self.response_metadata, **meta},
            "usage_metadata": _add_counts(self.usage_metadata, other.usage_metadata),
        }
        if self.tool_call_chunks or other.tool_call_chunks:
            fields["tool_call_chunks"] = _merge_lists(
                self.tool_call_chunks, other.tool_call_chunks
            )
        else:
            fields["tool_calls"] = self.tool_calls + other.tool_calls
            fields["invalid_tool_calls"] = (
                self.invalid_tool_calls + other.invalid_tool_calls
            )
        return AIMessageChunk(**fields)


# The persisted union: one tag per class, never renamed.
AnyMessage: TypeAlias = HumanMessage | AIMessage | SystemMessage | ToolMessage | RemoveMessage | AIMessageChunk  # fmt: skip
MESSAGE_TYPES = (HumanMessage, AIMessage, SystemMessage, ToolMessage, RemoveMessage, AIMessageChunk)  # fmt: skip
MessageLike: TypeAlias = BaseMessage | str | tuple[str, Any] | Mapping[str, Any]
MESSAGE_DECODER = msgspec.msgpack.Decoder(AnyMessage)
MESSAGES_DECODER = msgspec.msgpack.Decoder(list[AnyMessage])
MESSAGE_JSON_DECODER = msgspec.json.Decoder(AnyMessage)


def parse_tool_calls(
    raw_calls: Iterable[tuple[str | None, str | None, str | None]],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Tool calls from ``(name, arguments as JSON text, id)``, and those that are invalid.

    A call is invalid when it has no name, or its arguments are not a JSON
    object; it keeps its raw arguments and says why in ``error``.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for name, arguments, call_id in raw_calls:
        raw = arguments or ""
        args: dict[str, Any] = {}
        try:
            parsed: object = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            error: str | None = f"args are not valid JSON: {exc}"
        else:
            error = None if isinstance(parsed, dict) else "args are not a JSON object"
            if isinstance(parsed, dict):
                args = cast("dict[str, Any]", parsed)  # a JSON object: str keys
        if error is None and name:
            calls.append(
                {"name": name, "args": args, "id": call_id, "type": "tool_call"}
            )
        else:
            invalid.append(
                {
                    "name": name,
                    "args": raw,
                    "id": call_id,
                    "error": error or "tool call has no name",
                    "type": "invalid_tool_call",
                }
            )
    return calls, invalid


def _merge_content(left: Content, right: Content) -> Content:
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(left, str):
        return [left, *right] if left else list(right)
    if isinstance(right, str):
        if left and isinstance(left[-1], str):
            return [*left[:-1], left[-1] + right]
        return [*left, right] if right else list(left)
    return _merge_lists(left, right)


def _is_object(value: object) -> TypeGuard[dict[str, Any]]:
    """A JSON object (content blocks, tool-call chunks, kwargs: str keys)."""
    return isinstance(value, dict)


def _is_array(value: object) -> TypeGuard[list[Any]]:
    return isinstance(value, list)


def _merge_lists(left: Sequence[Any], right: Sequence[Any]) -> list[Any]:
    """Concatenate, merging dicts that carry the same integer ``index`` (LangChain's rule)."""
    merged = list(left)
    for item in right:
        index = item.get("index") if _is_object(item) else None
        if _is_object(item) and isinstance(index, int):
            for pos, existing in enumerate(merged):
                if _is_object(existing) and existing.get("index") == index:
                    merged[pos] = _merge_dicts(existing, item)
                    break
            else:
                merged.append(item)
        else:
            merged.append(item)
    return merged


def _merge_dicts(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Strings concatenate (except type/id/index), dicts recurse, lists merge by index."""
    merged = dict(left)
    for key, value in right.items():
        old = merged.get(key)
        if old is None:
            merged[key] = value
        elif value is None or key in ("type", "id", "index") or old == value:
            continue
        elif isinstance(old, str) and isinstance(value, str):
            merged[key] = old + value
        elif _is_object(old) and _is_object(value):
            merged[key] = _merge_dicts(old, value)
        elif _is_array(old) and _is_array(value):
            merged[key] = _merge_lists(old, value)
        else:
            merged[key] = value
    return merged


def _add_counts(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> Any:
    if left is None or right is None:
        return left if right is None else right
    out = dict(left)
    for key, value in right.items():
        old = out.get(key)
        if _is_object(old) and _is_object(value):
            out[key] = _add_counts(old, value)
        elif isinstance(old, int) and isinstance(value, int):
            out[key] = old + value
        else:
            out[key] = value if old is None else old
    return out


@overload
def message_chunk_to_message(message: AIMessageChunk) -> AIMessage: ...
@overload
def message_chunk_to_message(message: AnyMessage) -> AnyMessage: ...
def message_chunk_to_message(message: AnyMessage) -> AnyMessage:
    """Turn an AIMessageChunk into the AIMessage it adds up to; other messages pass through."""
    if not isinstance(message, AIMessageChunk):
        return message
    return AIMessage(**{f: getattr(message, f) for f in AIMessage.__struct_fields__})
