"""The chat-completions JSON that ChatOpenAI reads, as TypedDicts.

Bodies come from the SDK (``completion.to_dict(mode="json")``) or, streamed,
from ``json.loads`` of each server-sent event: the server decides what is
there, so every key is optional and most values may be null (the adapter
reads them with ``.get``). Only the keys the adapter reads are listed.
"""

from __future__ import annotations

from typing import TypedDict


class FunctionCall(TypedDict, total=False):
    """``tool_calls[i].function``: the name and the arguments as a JSON string."""

    name: str | None
    arguments: str | None


class ToolCallPayload(TypedDict, total=False):
    """One entry of ``tool_calls``; in a streamed delta, ``index`` says which call it adds to."""

    id: str | None
    index: int | None
    type: str | None
    function: FunctionCall | None


class MessagePayload(TypedDict, total=False):
    """``choices[i].message`` of a completion, or ``choices[i].delta`` of a chunk."""

    content: str | None
    refusal: str | None
    tool_calls: list[ToolCallPayload] | None


class Choice(TypedDict, total=False):
    """One entry of ``choices``: ``message`` in a completion, ``delta`` in a chunk."""

    index: int | None
    message: MessagePayload | None
    delta: MessagePayload | None
    finish_reason: str | None


class PromptDetails(TypedDict, total=False):
    cached_tokens: int | None


class CompletionDetails(TypedDict, total=False):
    reasoning_tokens: int | None


class Usage(TypedDict, total=False):
    """Token counts of a completion (in the last chunk of a stream with ``include_usage``)."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    prompt_tokens_details: PromptDetails | None
    completion_tokens_details: CompletionDetails | None


class ErrorPayload(TypedDict, total=False):
    message: str | None


class Completion(TypedDict, total=False):
    """A chat completion, or one streamed chunk of one (which may carry ``error``)."""

    id: str | None
    model: str | None
    system_fingerprint: str | None
    choices: list[Choice] | None
    usage: Usage | None
    error: ErrorPayload | str | None
