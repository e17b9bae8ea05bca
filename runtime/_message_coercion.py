"""``coerce_message``: strings, ``(role, content)`` pairs, dicts and LangChain-like objects as messages.

OpenAI-style dicts (``{"role": "assistant", "tool_calls": [{"function":
...}]}``) are read too; fields a message class does not have go to its
``additional_kwargs``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard, cast

from ._messages import (
    MESSAGE_TYPES,
    AIMessage,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

_ROLES: dict[str, type[AnyMessage]] = {
    **{cls.type: cls for cls in MESSAGE_TYPES},
    "user": HumanMessage,
    "assistant": AIMessage,
    "developer": SystemMessage,
}


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """A Mapping, typed as one with str keys (field names of a message, tool call or tool).

    Narrows for the type checker; the keys are not checked.
    """
    return isinstance(value, Mapping)


def _pair(value: object) -> tuple[str, object] | None:
    """``(role, content)`` from a 2-item tuple or list that starts with a str."""
    if not isinstance(value, tuple | list):
        return None
    items = cast("Sequence[object]", value)  # narrowing leaves the items Unknown
    if len(items) == 2 and isinstance(items[0], str):
        return items[0], items[1]
    return None


def _tool_call_from_dict(call: Mapping[str, Any]) -> ToolCall:
    function: object = call.get("function")
    if is_mapping(function):  # OpenAI wire format: arguments are a JSON string
        raw = function.get("arguments") or "{}"
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
    return cls(**known)


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
    if (pair := _pair(obj)) is not None:
        return _build(pair[0], {"content": pair[1]})
    if is_mapping(obj):
        fields = dict(obj)
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
