"""Chat messages shaped like LangChain's, as frozen msgspec Structs, plus ``add_messages``.

Messages live in checkpoints: one tagged union whose tags are LangChain's
``type`` names, never renamed; new fields always get defaults (STYLE rule 16).
``content`` may be positional (``HumanMessage("hi")``); other fields are keyword-only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final, Literal, NotRequired, TypeAlias, TypedDict

import msgspec

from ._langchain import is_langchain_message, ready_langchain
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
            calls, invalid = _parse_tool_call_chunks(self.tool_call_chunks)
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


def _parse_tool_call_chunks(
    chunks: Sequence[ToolCallChunk],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for chunk in chunks:
        name, raw, call_id = chunk.get("name"), chunk.get("args") or "", chunk.get("id")
        try:
            args = json.loads(raw) if raw.strip() else {}
            error = None if isinstance(args, dict) else "args are not a JSON object"
        except json.JSONDecodeError as exc:
            args, error = {}, f"args are not valid JSON: {exc}"
        if error is None and name:
            calls.append(
                {"name": name, "args": args, "id": call_id, "type": "tool_call"}
            )
        else:
            error = error or "tool call has no name"
            bad = {"name": name, "args": raw, "id": call_id, "error": error}
            invalid.append({**bad, "type": "invalid_tool_call"})  # type: ignore[typeddict-item]  # built from known keys
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


def _merge_lists(left: Sequence[Any], right: Sequence[Any]) -> list[Any]:
    """Concatenate, merging dicts that carry the same integer ``index`` (LangChain's rule)."""
    merged = list(left)
    for item in right:
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, int):
            for pos, existing in enumerate(merged):
                if isinstance(existing, dict) and existing.get("index") == index:
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
        elif isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge_dicts(old, value)  # pyright: ignore[reportUnknownArgumentType]  # JSON data
        elif isinstance(old, list) and isinstance(value, list):
            merged[key] = _merge_lists(old, value)  # pyright: ignore[reportUnknownArgumentType]  # JSON data
        else:
            merged[key] = value
    return merged


def _add_counts(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> Any:
    if left is None or right is None:
        return left if right is None else right
    out = dict(left)
    for key, value in right.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _add_counts(old, value)  # pyright: ignore[reportUnknownArgumentType]  # counts
        elif isinstance(old, int) and isinstance(value, int):
            out[key] = old + value
        else:
            out[key] = value if old is None else old
    return out


def message_chunk_to_message(message: AnyMessage) -> AnyMessage:
    """Turn an AIMessageChunk into the AIMessage it adds up to; other messages pass through."""
    if not isinstance(message, AIMessageChunk):
        return message
    return AIMessage(**{f: getattr(message, f) for f in AIMessage.__struct_fields__})


_ROLES: dict[str, type[BaseMessage]] = {cls.type: cls for cls in MESSAGE_TYPES}
_ROLES |= {"user": HumanMessage, "assistant": AIMessage, "developer": SystemMessage}


def _tool_call_from_dict(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function")
    if isinstance(function, Mapping):  # OpenAI wire format: arguments are a JSON string
        raw = function.get("arguments") or "{}"  # pyright: ignore[reportUnknownMemberType]
        name, args = function["name"], json.loads(raw) if isinstance(raw, str) else raw
    elif "name" in call:
        name, args = call["name"], dict(call.get("args") or {})
    else:
        raise ValueError(f"a tool call needs a 'name': {dict(call)!r}")
    return {"name": name, "args": args, "id": call.get("id"), "type": "tool_call"}


def _build(role: str, fields: dict[str, Any]) -> AnyMessage:
    cls = _ROLES.get(role)
    if cls is None:
        raise ValueError(f"unknown message role {role!r}; use one of {sorted(_ROLES)}")
    content = fields.get("content")
    fields["content"] = "" if content is None else content
    if not isinstance(fields["content"], str | list):
        raise TypeError(
            f"content must be a str or a list, not {type(content).__name__}"
        )
    if "tool_calls" in fields and issubclass(cls, AIMessage):
        fields["tool_calls"] = [_tool_call_from_dict(c) for c in fields["tool_calls"]]
    if cls is ToolMessage and not fields.get("tool_call_id"):
        raise ValueError("a tool message needs a 'tool_call_id'")
    if cls is RemoveMessage and not fields.get("id"):
        raise ValueError("a remove message needs an 'id'")
    known = {k: v for k, v in fields.items() if k in cls.__struct_fields__}
    extra = {k: v for k, v in fields.items() if k not in cls.__struct_fields__}
    if extra:
        known["additional_kwargs"] = {**known.get("additional_kwargs", {}), **extra}
    return cls(**known)  # type: ignore[return-value]  # _ROLES holds only AnyMessage classes


def coerce_message(obj: object) -> AnyMessage:
    """Turn a message-like value into one of our messages.

    Accepts our messages, plain strings (a HumanMessage), ``(role, content)``
    pairs, ``{"role" | "type": ..., "content": ...}`` dicts (OpenAI-style tool
    calls included) and LangChain-like objects with ``.type`` and ``.content``.

    Raises:
        ValueError: unknown role, missing content, or a tool message without
            ``tool_call_id``.
        TypeError: a value that is none of the accepted shapes.
    """
    if isinstance(obj, MESSAGE_TYPES):
        return obj
    if isinstance(obj, str):
        return HumanMessage(content=obj)
    if isinstance(obj, tuple | list) and len(obj) == 2 and isinstance(obj[0], str):  # pyright: ignore[reportUnknownArgumentType]
        return _build(obj[0], {"content": obj[1]})
    if isinstance(obj, Mapping):
        fields: dict[str, Any] = dict(obj)  # pyright: ignore[reportUnknownArgumentType]
        role = fields.pop("role", None) or fields.get("type")
        fields.pop("type", None)
        if not isinstance(role, str):
            raise ValueError(f"a message dict needs a 'role' key, got {sorted(fields)}")
        if "content" not in fields and not fields.get("tool_calls"):
            raise ValueError(f"a {role!r} message dict needs a 'content' key")
        return _build(role, fields)
    kind, content = getattr(obj, "type", None), getattr(obj, "content", None)
    if isinstance(kind, str) and content is not None:
        cls = _ROLES.get(kind)
        names = cls.__struct_fields__ if cls is not None else ("content",)
        attrs = {n: getattr(obj, n) for n in names if getattr(obj, n, None) is not None}
        return _build(kind, attrs)
    raise TypeError(
        f"cannot turn {type(obj).__name__} into a message; pass a message, a str, "
        "a (role, content) tuple or a {'role': ..., 'content': ...} dict"
    )


_RANDOM = random.Random()  # ids, not secrets: no urandom syscall per message


_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def _new_message_id() -> str:
    """A random (version 4) UUID string, as LangChain assigns to messages."""
    # what str(uuid.UUID(int=..., version=4)) gives, at a third of its cost
    h = f"{_RANDOM.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _with_id(message: AnyMessage) -> AnyMessage:
    message = message_chunk_to_message(message)
    if message.id is None:
        return msgspec.structs.replace(message, id=_new_message_id())
    return message


# Messages that add_messages keeps as they are once they have an id (a chunk
# still becomes a full message): the whole history, on every turn.
_FINAL_TYPES: frozenset[type] = frozenset(MESSAGE_TYPES) - {AIMessageChunk}


new_message_id = _new_message_id


def _ready(obj: Any) -> Any:
    if type(obj) in _FINAL_TYPES and obj.id is not None:
        return obj
    if is_langchain_message(obj):
        return ready_langchain(obj)  # kept a LangChain message, as LangGraph does
    return _with_id(coerce_message(obj))


def _is_remove(message: Any) -> bool:
    return message.type == "remove"  # ours or LangChain's RemoveMessage


def add_messages(
    left: MessageLike | list[Any] | None, right: MessageLike | list[Any]
) -> list[Any]:
    """Merge two message lists the way LangGraph's ``add_messages`` reducer does.

    Messages without an id get a uuid4 id. A right message whose id is already
    on the left replaces it in place; ``RemoveMessage(id=...)`` deletes that
    message, and ``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` drops everything
    before it. Chunks become full messages. LangChain messages stay
    LangChain messages. Inputs are not mutated.

    Raises:
        ValueError: a RemoveMessage names an id that is not present, or a
            value is not a valid message (see ``coerce_message``).
        TypeError: a value cannot be turned into a message.
    """
    lefts: list[Any] = (
        [] if left is None else left if isinstance(left, list) else [left]
    )
    olds = [_ready(m) for m in lefts]
    news = [_ready(m) for m in (right if isinstance(right, list) else [right])]
    for pos in range(len(news) - 1, -1, -1):
        if _is_remove(news[pos]) and news[pos].id == REMOVE_ALL_MESSAGES:
            return news[pos + 1 :]
    merged = list(olds)
    position = {m.id: i for i, m in enumerate(merged)}
    removed: set[str | None] = set()
    for message in news:
        at = position.get(message.id)
        if at is None:
            if _is_remove(message):
                raise ValueError(
                    f"cannot remove message {message.id!r}: no message has that id"
                )
            position[message.id] = len(merged)
            merged.append(message)
        elif _is_remove(message):
            removed.add(message.id)
        else:
            removed.discard(message.id)
            merged[at] = message
    return [m for m in merged if m.id not in removed]
