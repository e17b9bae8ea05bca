"""Chat-model adapters on the official SDKs, behind the ChatModel protocol.

``ChatAnthropic`` and ``ChatOpenAI`` are imported on first use: each SDK
takes a second or more to import, and a service needs at most one of them.
"""

from typing import TYPE_CHECKING, Any

from ._base import (
    ChatModel as ChatModel,
    ChatModelError as ChatModelError,
    ToolSpec as ToolSpec,
    to_tool_spec as to_tool_spec,
)

if TYPE_CHECKING:
    from ._anthropic import ChatAnthropic as ChatAnthropic
    from ._openai import ChatOpenAI as ChatOpenAI

__all__ = [
    "ChatAnthropic",
    "ChatModel",
    "ChatModelError",
    "ChatOpenAI",
    "ToolSpec",
    "to_tool_spec",
]


def __getattr__(name: str) -> Any:
    if name == "ChatAnthropic":
        from ._anthropic import ChatAnthropic

        return ChatAnthropic
    if name == "ChatOpenAI":
        from ._openai import ChatOpenAI

        return ChatOpenAI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
