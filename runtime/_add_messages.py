"""LangGraph's ``add_messages`` reducer, and the ids it gives messages that have none.

Messages without an id get a random uuid4 (``new_message_id``); a right-hand
message whose id is already on the left replaces it, a ``RemoveMessage``
deletes it. LangChain messages stay LangChain messages.
"""

from __future__ import annotations

import random
from typing import Any, Final

import msgspec

from ._langchain import is_langchain_message, ready_langchain
from ._message_coercion import coerce_message
from ._messages import (
    MESSAGE_TYPES,
    REMOVE_ALL_MESSAGES,
    AIMessageChunk,
    AnyMessage,
    MessageLike,
    message_chunk_to_message,
)

_RANDOM = random.Random()  # ids, not secrets: no urandom syscall per message


_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_message_id() -> str:
    """A random (version 4) UUID string, as LangChain assigns to messages."""
    # what str(uuid.UUID(int=..., version=4)) gives, at a third of its cost
    h = f"{_RANDOM.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _with_id(message: AnyMessage) -> AnyMessage:
    message = message_chunk_to_message(message)
    if message.id is None:
        return msgspec.structs.replace(message, id=new_message_id())
    return message


# Messages that add_messages keeps as they are once they have an id (a chunk
# still becomes a full message): the whole history, on every turn.
_FINAL_TYPES: frozenset[type] = frozenset(MESSAGE_TYPES) - {AIMessageChunk}


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
