"""ChatAnthropic: the Messages API through ``anthropic.AsyncAnthropic``.

System messages go to the top-level ``system`` parameter; tool results
become ``tool_result`` blocks in a user turn; consecutive turns of one role
are merged. Streams are read as raw server-sent events (see ``sse_events``).
The 2.x SDK has no ``temperature`` argument, so it is sent in ``extra_body``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast, final

import anthropic
import httpx2

from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    Content,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
)

from ._base import (
    BaseChatModel,
    CallOptions,
    ChatModelError,
    stream_chunks,
    wire_blocks,
)

if TYPE_CHECKING:
    from ._anthropic_payloads import Response, StreamEvent, Usage

_ERRORS = (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError)


def _blocks(content: Content) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return wire_blocks(content)


def _ai_blocks(message: AIMessage) -> list[dict[str, Any]]:
    blocks = _blocks(message.content)
    if message.tool_calls:  # the parsed calls win over tool_use blocks in the content
        blocks = [b for b in blocks if b.get("type") != "tool_use"]
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": call["name"],
                "input": call["args"],
            }
        )
    return blocks


def _turn(message: AnyMessage) -> tuple[str, list[dict[str, Any]]]:
    match message:
        case HumanMessage():
            return "user", _blocks(message.content)
        case ToolMessage():
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
            }
            result["content"] = (
                message.content
                if isinstance(message.content, str)
                else _blocks(message.content)
            )
            if message.status == "error":
                result["is_error"] = True
            return "user", [result]
        case AIMessage():
            return "assistant", _ai_blocks(message)
        case _:
            raise ValueError(
                f"a {message.type!r} message cannot be sent to the model; apply it with add_messages first"
            )


def to_anthropic(
    messages: list[AnyMessage],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """The ``system`` parameter and the ``messages`` list for the Messages API.

    Raises ValueError for a RemoveMessage.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            system += _blocks(message.content)
            continue
        role, blocks = _turn(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # a lone text block reads better, and costs less, as a string
        if len(turn["content"]) == 1 and set(turn["content"][0]) == {"type", "text"}:
            turn["content"] = turn["content"][0]["text"]
    if all(set(b) == {"type", "text"} for b in system):
        return "\n\n".join(b["text"] for b in system) or None, turns
    return system, turns


def _usage(usage: Usage, *, output: bool = True, input: bool = True) -> UsageMetadata:
    read = usage.get("cache_read_input_tokens") or 0
    created = usage.get("cache_creation_input_tokens") or 0
    inputs = (usage.get("input_tokens") or 0) + read + created if input else 0
    outputs = (usage.get("output_tokens") or 0) if output else 0
    result: UsageMetadata = {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "total_tokens": inputs + outputs,
    }
    if input and (read or created):
        result["input_token_details"] = {"cache_read": read, "cache_creation": created}
    return result


def _metadata(data: Response, *, stop: bool = True) -> dict[str, Any]:
    """The response metadata; ``stop=False`` leaves out the stop reason (not known yet)."""
    meta: dict[str, Any] = {
        "id": data.get("id"),
        "model": data.get("model"),
        "model_name": data.get("model"),
    }
    meta["model_provider"] = "anthropic"
    if stop and "stop_reason" in data:
        meta.update(
            stop_reason=data.get("stop_reason"), stop_sequence=data.get("stop_sequence")
        )
    return meta


def message_from_response(data: Response) -> AIMessage:
    """An AIMessage from a Messages API response body.

    Text becomes a string; with other blocks (e.g. thinking) present, the
    content is the list of non-tool_use blocks. tool_use blocks become tool_calls.
    """
    blocks = data.get("content") or []
    calls: list[ToolCall] = [
        {
            "name": b["name"],
            "args": b.get("input") or {},
            "id": b["id"],
            "type": "tool_call",
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    kept = [b for b in blocks if b.get("type") != "tool_use"]
    content: Content = list[str | dict[str, Any]](kept)
    if all(b.get("type") == "text" for b in kept):
        content = "".join(b["text"] for b in kept)
    return AIMessage(
        content=content,
        id=data.get("id") or str(uuid.uuid4()),
        tool_calls=calls,
        usage_metadata=_usage(data.get("usage") or {}),
        response_metadata=_metadata(data),
    )


class _StreamState:
    """Turns Messages API stream events into AIMessageChunks."""

    def __init__(self) -> None:
        self.id: str | None = None

    def chunk(self, event: StreamEvent) -> AIMessageChunk | None:
        """The chunk for one event (None for pings, stops and unhandled blocks).

        Raises ChatModelError for an ``error`` event.
        """
        if event["type"] == "message_start":
            message = event["message"]
            self.id = message.get("id")
            meta = _metadata(message, stop=False)
            usage = _usage(message.get("usage") or {}, output=False)
            return AIMessageChunk(
                id=self.id, response_metadata=meta, usage_metadata=usage
            )
        if event["type"] == "content_block_start":
            return self._block(event["index"], event["content_block"])
        if event["type"] == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        if event["type"] == "message_delta":
            delta = event.get("delta") or {}
            meta = {
                "stop_reason": delta.get("stop_reason"),
                "stop_sequence": delta.get("stop_sequence"),
            }
            usage = _usage(event.get("usage") or {}, input=False)
            return AIMessageChunk(
                id=self.id, response_metadata=meta, usage_metadata=usage
            )
        if event["type"] == "error":
            error = event.get("error") or {}
            what = f"{error.get('type', 'error')}): {error.get('message')}"
            raise ChatModelError(
                f"anthropic stream failed ({what}; retry later", provider="anthropic"
            )
        return None

    def _block(self, index: int, block: Mapping[str, Any]) -> AIMessageChunk | None:
        if block.get("type") == "tool_use":
            return self._tool_chunk(index, block["name"], "", block["id"])
        if block.get("type") == "text" and block.get("text"):
            return AIMessageChunk(content=block["text"], id=self.id)
        return None  # thinking and server-tool blocks are not streamed

    def _delta(self, index: int, delta: Mapping[str, Any]) -> AIMessageChunk | None:
        if delta.get("type") == "text_delta":
            return AIMessageChunk(content=delta["text"], id=self.id)
        if delta.get("type") == "input_json_delta":
            return self._tool_chunk(index, None, delta["partial_json"], None)
        return None

    def _tool_chunk(
        self, index: int, name: str | None, args: str, call_id: str | None
    ) -> AIMessageChunk:
        call: ToolCallChunk = {
            "name": name,
            "args": args,
            "id": call_id,
            "index": index,
        }
        return AIMessageChunk(id=self.id, tool_call_chunks=[call])


@final
class ChatAnthropic(BaseChatModel):
    """Claude through the Anthropic Messages API (``anthropic.AsyncAnthropic``).

    ``api_key``/``base_url`` default to ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL;
    ``timeout`` (seconds, None for the SDK's default) and ``max_retries`` go
    to the SDK client, whose own retry logic is used. ``model_kwargs`` are
    sent with every request (e.g. ``{"thinking": {...}}``).
    """

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        max_tokens: int = 1024,
        temperature: float | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        api_key: str | None = None,
        base_url: str | None = None,
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

    def _new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(**self._client_options())

    def _params(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> dict[str, Any]:
        system, turns = to_anthropic(messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": turns,
        }
        if system:
            params["system"] = system
        if self.temperature is not None:
            params["extra_body"] = {"temperature": self.temperature}
        if options.stop:
            params["stop_sequences"] = options.stop
        if options.tools:
            params["tools"] = [
                {"name": t.name, "input_schema": t.parameters}
                | ({"description": t.description} if t.description else {})
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
            response = await self._clients.get().messages.create(**params)
        except _ERRORS as exc:
            raise ChatModelError.from_exception("anthropic", exc) from exc
        # SDK boundary: the SDK parsed the body; Response names the keys we read
        return message_from_response(cast("Response", response.to_dict(mode="json")))

    async def _astream_chunks(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> AsyncGenerator[AIMessageChunk]:
        params = self._params(messages, options)
        state = _StreamState()
        try:
            request = self._clients.get().messages.with_streaming_response.create(
                **params, stream=True
            )
            async with (
                request as response,
                aclosing(stream_chunks(response.http_response, state.chunk)) as chunks,
            ):
                async for chunk in chunks:
                    yield chunk
        except _ERRORS as exc:
            raise ChatModelError.from_exception("anthropic", exc) from exc


def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in ("auto", "any", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}
