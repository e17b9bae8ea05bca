"""LangChain messages inside runs: conversion both ways, checkpointing, ``add_messages``.

``langchain-core`` is optional (``pip install 'actorgraph[langchain]'``):
nothing here imports it until a LangChain object is met or a conversion is
asked for, and a LangChain object can only be met once the user imported it.

- ``to_langchain(m)`` / ``from_langchain(m)`` convert one message;
- checkpoints keep a LangChain message as LangChain's ``message_to_dict``
  form under its own msgpack extension, so it comes back as the same class
  after resume and in ``get_state``;
- ``add_messages`` keeps LangChain messages as they are (ids assigned,
  chunks turned into messages), as LangGraph's reducer does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from types import ModuleType

    from ._messages import AnyMessage

_INSTALL = "LangChain interop needs langchain-core: pip install 'actorgraph[langchain]'"


def _lc_messages() -> ModuleType:
    try:
        return importlib.import_module("langchain_core.messages")
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc


def is_langchain_message(obj: object) -> bool:
    """True for an instance of langchain_core's ``BaseMessage`` (never imports it)."""
    module = type(obj).__module__
    if not module.startswith("langchain_core."):
        return False
    return isinstance(obj, _lc_messages().BaseMessage)


# our type tag -> langchain_core.messages class name
_CLASSES = {
    "human": "HumanMessage",
    "ai": "AIMessage",
    "system": "SystemMessage",
    "tool": "ToolMessage",
    "remove": "RemoveMessage",
    "AIMessageChunk": "AIMessageChunk",
}


def to_langchain(message: Any) -> Any:
    """The langchain_core message equal to ``message`` (ours or anything ``coerce_message`` takes).

    A LangChain message is returned as is. Raises ImportError without
    langchain-core.
    """
    from ._message_coercion import coerce_message

    if is_langchain_message(message):
        return message
    ours = coerce_message(message)
    fields = {
        k: v
        for k, v in msgspec.structs.asdict(ours).items()
        if v is not None and v != [] and v != {}
    }
    fields.setdefault("content", "")
    if ours.type == "AIMessageChunk" and fields.get("tool_call_chunks"):
        fields.pop("tool_calls", None)
        fields.pop("invalid_tool_calls", None)
    cls = getattr(_lc_messages(), _CLASSES[ours.type])
    return cls(**fields)


def from_langchain(message: Any) -> AnyMessage:
    """Our message equal to the langchain_core ``message`` (ours pass through).

    Raises TypeError for a LangChain message type we have no class for
    (``ChatMessage``, ``FunctionMessage``, chunks other than ``AIMessageChunk``).
    """
    from ._message_coercion import coerce_message
    from ._messages import MESSAGE_TYPES

    if isinstance(message, MESSAGE_TYPES):
        return message
    if message.type not in _CLASSES:
        raise TypeError(
            f"no actorgraph message type for LangChain's {type(message).__name__}; "
            f"supported: {sorted(_CLASSES.values())}"
        )
    return coerce_message(message)


def dump_langchain(message: Any) -> dict[str, Any]:
    """LangChain's ``message_to_dict`` form of ``message`` (for checkpoints)."""
    return _lc_messages().message_to_dict(message)


def load_langchain(data: dict[str, Any]) -> Any:
    """The LangChain message ``dump_langchain`` gave ``data`` for."""
    return _lc_messages().messages_from_dict([data])[0]


def ready_langchain(message: Any) -> Any:
    """``message`` as LangGraph's ``add_messages`` keeps it: a full message with an id."""
    module = _lc_messages()
    message = module.message_chunk_to_message(message)
    if message.id is None:
        from ._add_messages import new_message_id

        message = message.model_copy(update={"id": new_message_id()})
    return message
