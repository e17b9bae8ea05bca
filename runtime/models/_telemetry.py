"""``chat <model>`` spans for the adapters, after the OpenTelemetry GenAI conventions.

``generate_call`` and ``stream_call`` return the adapter's own coroutine or
chunk stream when tracing is off (no wrapper, no span), and a traced one when
the run (or the Runtime) has tracing on. The span carries the provider, the
request and response model, the input and output tokens and the finish
reasons; with content recording on, also ``gen_ai.input.messages`` and
``gen_ai.output.messages`` as the conventions' JSON.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Iterable
from contextlib import aclosing
from functools import reduce
from operator import add
from typing import TYPE_CHECKING, Any

import msgspec
from opentelemetry.trace import Span, SpanKind

from actors import Telemetry, otel_context as ctx
from runtime import _telemetry
from runtime._context import RUN_VAR
from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    Content,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_chunk_to_message,
)

fail = Telemetry.fail
_CLIENT = SpanKind.CLIENT

if TYPE_CHECKING:
    from opentelemetry.context.context import Context

    from ._base import BaseChatModel, CallOptions

_JSON = msgspec.json.Encoder(enc_hook=str)  # content is recorded, never refused


def _telemetry_here() -> Telemetry | None:
    return _telemetry.current() if _telemetry.active else None


def generate_call(
    model: BaseChatModel, messages: list[AnyMessage], options: CallOptions
) -> Awaitable[AIMessage]:
    """``model._agenerate(messages, options)``, in a chat span when tracing is on."""
    tel = _telemetry_here()
    if tel is None:
        return model._agenerate(messages, options)  # pyright: ignore[reportPrivateUsage]
    return _traced_generate(tel, model, messages, options)


def stream_call(
    model: BaseChatModel, messages: list[AnyMessage], options: CallOptions
) -> AsyncGenerator[AIMessageChunk]:
    """``model._astream_chunks(messages, options)``, in a chat span when tracing is on."""
    chunks = model._astream_chunks(messages, options)  # pyright: ignore[reportPrivateUsage]
    tel = _telemetry_here()
    return chunks if tel is None else _traced_stream(tel, model, messages, chunks)


async def _traced_generate(
    tel: Telemetry,
    model: BaseChatModel,
    messages: list[AnyMessage],
    options: CallOptions,
) -> AIMessage:
    here = ctx.current()
    span = _start(tel, model, messages, options, here)
    token = ctx.attach(ctx.with_span(span, here))  # HTTP spans nest
    try:
        reply = await model._agenerate(messages, options)  # pyright: ignore[reportPrivateUsage]
    except BaseException as exc:
        ctx.detach(token)
        fail(span, exc)
        span.end()
        raise
    ctx.detach(token)
    _finish(tel, span, model, reply.usage_metadata, reply.response_metadata, reply)
    return reply


async def _traced_stream(
    tel: Telemetry,
    model: BaseChatModel,
    messages: list[AnyMessage],
    chunks: AsyncGenerator[AIMessageChunk],
) -> AsyncGenerator[AIMessageChunk]:
    # Not made current: a generator's context is its consumer's.
    span = _start(tel, model, messages, None, None)
    usage: dict[str, int] = {"input_tokens": 0, "output_tokens": 0}
    meta: dict[str, Any] = {}
    kept: list[AIMessageChunk] | None = [] if tel.content else None
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                if chunk.usage_metadata:
                    usage["input_tokens"] += chunk.usage_metadata["input_tokens"]
                    usage["output_tokens"] += chunk.usage_metadata["output_tokens"]
                if chunk.response_metadata:
                    meta.update(
                        (k, v)
                        for k, v in chunk.response_metadata.items()
                        if v is not None
                    )
                if kept is not None:
                    kept.append(chunk)
                yield chunk
    except GeneratorExit:  # the consumer stopped early: what came so far
        span.set_attribute("actorgraph.chat.closed_early", True)
        _finish(tel, span, model, usage, meta, _joined(kept))
        raise
    except BaseException as exc:
        fail(span, exc)
        span.end()
        raise
    _finish(tel, span, model, usage, meta, _joined(kept))


def _joined(chunks: list[AIMessageChunk] | None) -> AIMessage | None:
    if not chunks:
        return None
    return message_chunk_to_message(reduce(add, chunks))


def _start(
    tel: Telemetry,
    model: BaseChatModel,
    messages: list[AnyMessage],
    options: CallOptions | None,
    here: Context | None,
) -> Span:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": model.provider or type(model).__name__,
        "gen_ai.request.model": model.model,
    }
    if model.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = model.max_tokens
    if model.temperature is not None:
        attributes["gen_ai.request.temperature"] = model.temperature
    if options is not None and options.stop:
        attributes["gen_ai.request.stop_sequences"] = tuple(options.stop)
    run = RUN_VAR.get()
    if run is not None:
        attributes["gen_ai.conversation.id"] = run.thread_id
    if tel.content:
        attributes["gen_ai.input.messages"] = _encode(_message(m) for m in messages)
    return tel.start(f"chat {model.model}", here, _CLIENT, attributes)


def _finish(
    tel: Telemetry,
    span: Span,
    model: BaseChatModel,
    usage: Any,
    meta: dict[str, Any],
    reply: AIMessage | None,
) -> None:
    attributes: dict[str, Any] = {}
    response_model = meta.get("model_name") or meta.get("model")
    if response_model:
        attributes["gen_ai.response.model"] = response_model
    if meta.get("id"):
        attributes["gen_ai.response.id"] = meta["id"]
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    if reason:
        attributes["gen_ai.response.finish_reasons"] = (str(reason),)
    if usage:
        tokens = tel.metrics.tokens
        provider = model.provider or type(model).__name__
        for kind in ("input", "output"):
            n = usage.get(f"{kind}_tokens") or 0
            attributes[f"gen_ai.usage.{kind}_tokens"] = n
            key = (provider, model.model, kind)
            tokens[key] = tokens.get(key, 0) + n
    if tel.content and reply is not None:
        output = _message(reply) | {"finish_reason": reason or "stop"}
        attributes["gen_ai.output.messages"] = _encode([output])
    span.set_attributes(attributes)
    span.end()


def _encode(messages: Iterable[dict[str, Any]]) -> str:
    return _JSON.encode(list(messages)).decode()


def _parts(content: Content) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
        elif block.get("type") == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        else:  # a generic part: it keeps its own type and fields
            parts.append(dict(block))
    return parts


def _message(message: AnyMessage) -> dict[str, Any]:
    """One message as the GenAI conventions' ``{"role", "parts"}`` JSON object."""
    match message:
        case HumanMessage():
            return {"role": "user", "parts": _parts(message.content)}
        case SystemMessage():
            return {"role": "system", "parts": _parts(message.content)}
        case ToolMessage():
            response = {"type": "tool_call_response", "id": message.tool_call_id}
            return {"role": "tool", "parts": [response | {"response": message.text}]}
        case AIMessage():
            calls = [
                {
                    "type": "tool_call",
                    "id": c["id"],
                    "name": c["name"],
                    "arguments": c["args"],
                }
                for c in message.tool_calls
            ]
            return {"role": "assistant", "parts": _parts(message.content) + calls}
        case _:
            return {"role": message.type, "parts": _parts(message.content)}
