"""Chat-model adapters on the official SDKs, behind the ChatModel protocol."""

from ._anthropic import ChatAnthropic as ChatAnthropic
from ._base import (
    ChatModel as ChatModel,
    ChatModelError as ChatModelError,
    ToolSpec as ToolSpec,
    to_tool_spec as to_tool_spec,
)
from ._openai import ChatOpenAI as ChatOpenAI

__all__ = [
    "ChatAnthropic",
    "ChatModel",
    "ChatModelError",
    "ChatOpenAI",
    "ToolSpec",
    "to_tool_spec",
]
