"""ChatOpenAI: chat completions through ``openai.AsyncOpenAI``.

Works with any OpenAI-compatible server through ``base_url``. Streams are read
as raw server-sent events to the end of the body (see ``sse_events``): the
SDK's own stream stops at ``[DONE]`` and leaves generators for trio to warn about.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast, final

import httpx2
import openai

from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UsageMetadata,
    parse_tool_calls,
)

from ._base import (
    BaseChatModel,
    CallOptions,
    ChatModelError,
    stream_chunks,
    wire_blocks,
)

if TYPE_CHECKING:
    from ._openai_payloads import Completion, ToolCallPayload, Usage

_ERRORS = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError)


def _parts(content: str | list[Any]) -> str | list[dict[str, Any]]:
    return content if isinstance(content, str) else wire_blocks(content)


def _to_openai_message(message: AnyMessage) -> dict[str, Any]:
    match message:
        case SystemMessage():
            out: dict[str, Any] = {"role": "system", "content": _parts(message.content)}
        case HumanMessage():
            out = {"role": "user", "content": _parts(message.content)}
        case ToolMessage():
            return {
                "role": "tool",
                "tool_call_id": message.tool_call_id,
                "content": message.text,
            }
        case AIMessage():
            out = {
                "role": "assistant",
                "content": message.text or (None if message.tool_calls else ""),
            }
            if message.tool_calls:
                out["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": call["name"],
                            "arguments": json.dumps(call["args"]),
                        },
                    }
                    for call in message.tool_calls
                ]
        case _:
            raise ValueError(
                f"a {message.type!r} message cannot be sent to the model; apply it with add_messages first"
            )
    if message.name:
        out["name"] = message.name
    return out


def to_openai(messages: list[AnyMessage]) -> list[dict[str, Any]]:
    """The ``messages`` list for chat completions; ValueError for a RemoveMessage."""
    return [_to_openai_message(m) for m in messages]


def _parse_calls(
    raw_calls: list[ToolCallPayload],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    functions = [(raw, raw.get("function") or {}) for raw in raw_calls]
    return parse_tool_calls(
        (function.get("name"), function.get("arguments"), raw.get("id"))
        for raw, function in functions
    )


def _usage(usage: Usage) -> UsageMetadata:
    inputs, outputs = (
        usage.get("prompt_tokens") or 0,
        usage.get("completion_tokens") or 0,
    )
    result: UsageMetadata = {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "total_tokens": usage.get("total_tokens") or inputs + outputs,
    }
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if cached:
        result["input_token_details"] = {"cache_read": cached}
    if reasoning:
        result["output_token_details"] = {"reasoning": reasoning}
    return result


def _metadata(data: Completion) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "model": data.get("model"),
        "model_name": data.get("model"),
        "system_fingerprint": data.get("system_fingerprint"),
        "model_provider": "openai",
    }


def message_from_completion(data: Completion) -> AIMessage:
    """An AIMessage from a chat completion body (its first choice).

    Raises ChatModelError when the body has no choices.
    """
    choices = data.get("choices") or []
    if not choices:
        raise ChatModelError(
            "openai returned no choices; check the server", provider="openai"
        )
    message = choices[0].get("message") or {}
    calls, invalid = _parse_calls(message.get("tool_calls") or [])
    refusal = message.get("refusal")
    extra = {"refusal": refusal} if refusal else {}
    return AIMessage(
        content=message.get("content") or "",
        id=data.get("id") or str(uuid.uuid4()),
        tool_calls=calls,
        invalid_tool_calls=invalid,
        additional_kwargs=extra,
        usage_metadata=_usage(usage) if (usage := data.get("usage")) else None,
        response_metadata=_metadata(data)
        | {"finish_reason": choices[0].get("finish_reason")},
    )


class _StreamState:
    """Turns streamed completion chunks into AIMessageChunks (model metadata once)."""

    def __init__(self) -> None:
        self.first = True

    def chunk(self, data: Completion) -> AIMessageChunk | None:
        chunk = chunk_from_event(data, self.first)
        self.first = self.first and chunk is None
        return chunk


def chunk_from_event(data: Completion, first: bool) -> AIMessageChunk | None:
    """An AIMessageChunk from one streamed completion chunk (None if it carries nothing)."""
    if "error" in data:
        error = data["error"] or {}
        message = error if isinstance(error, str) else error.get("message")
        raise ChatModelError(
            f"openai stream failed: {message}; retry later", provider="openai"
        )
    fields: dict[str, Any] = {}
    if first:
        fields["response_metadata"] = _metadata(data)
    if usage := data.get("usage"):
        fields["usage_metadata"] = _usage(usage)
    for choice in data.get("choices") or []:
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        if content := delta.get("content"):
            fields["content"] = content
        if calls := delta.get("tool_calls"):
            fields["tool_call_chunks"] = [
                {
                    "name": (c.get("function") or {}).get("name"),
                    "args": (c.get("function") or {}).get("arguments"),
                    "id": c.get("id"),
                    "index": c.get("index"),
                }
                for c in calls
            ]
        if finish := choice.get("finish_reason"):
            fields["response_metadata"] = {
                **fields.get("response_metadata", {}),
                "finish_reason": finish,
            }
    return AIMessageChunk(id=data.get("id"), **fields) if fields else None


@final
class ChatOpenAI(BaseChatModel):
    """A chat model behind OpenAI's chat completions API (``openai.AsyncOpenAI``).

    ``api_key``/``base_url`` default to OPENAI_API_KEY/OPENAI_BASE_URL;
    ``timeout`` (seconds, None for the SDK's default) and ``max_retries`` go
    to the SDK client. ``max_tokens`` is sent as ``max_completion_tokens``.
    ``stream_usage`` asks for the final usage chunk when streaming.
    """

    provider = "openai"

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        api_key: str | None = None,
        base_url: str | None = None,
        stream_usage: bool = True,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            max_retries=max_retries,
            api_key=api_key,
            base_url=base_url,
            model_kwargs=model_kwargs,
        )
        self.stream_usage = stream_usage

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**self._client_options())

    def _params(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": to_openai(messages)}
        if self.max_tokens is not None:
            params["max_completion_tokens"] = self.max_tokens
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if options.stop:
            params["stop"] = options.stop
        if options.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in options.tools
            ]
        if options.tool_choice is not None:
            params["tool_choice"] = _tool_choice(options.tool_choice)
        return params | options.extra

    async def _agenerate(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> AIMessage:
        params = self._params(messages, options)
        try:
            completion = await self._clients.get().chat.completions.create(**params)
        except _ERRORS as exc:
            raise ChatModelError.from_exception("openai", exc) from exc
        # SDK boundary: the SDK parsed the body; Completion names the keys we read
        return message_from_completion(
            cast("Completion", completion.to_dict(mode="json"))
        )

    async def _astream_chunks(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> AsyncGenerator[AIMessageChunk]:
        params = self._params(messages, options) | {"stream": True}
        if self.stream_usage:
            params["stream_options"] = {"include_usage": True}
        state = _StreamState()
        try:
            request = (
                self._clients.get().chat.completions.with_streaming_response.create(
                    **params
                )
            )
            async with (
                request as response,
                aclosing(stream_chunks(response.http_response, state.chunk)) as chunks,
            ):
                async for chunk in chunks:
                    yield chunk
        except _ERRORS as exc:
            raise ChatModelError.from_exception("openai", exc) from exc


def _tool_choice(choice: str | Mapping[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}
