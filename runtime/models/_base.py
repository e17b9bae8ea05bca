"""The ChatModel protocol, ChatModelError, tool specs, and the body shared by the adapters.

Adapters subclass ``BaseChatModel`` and supply three hooks: ``_new_client``,
``_agenerate`` (one plain call) and ``_astream_chunks`` (one streamed call).
Everything else lives here once: message coercion, token streaming into the
run's "messages" stream, the sync twins, ``bind_tools`` and closing clients.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import typing
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar, Protocol, Self, TypeAlias, TypeVar, runtime_checkable

import anyio
import msgspec

from runtime._context import emit_message, wants_messages
from runtime._errors import ChatModelError as ChatModelError
from runtime._message_coercion import coerce_message, is_mapping
from runtime._messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    MessageLike,
    message_chunk_to_message,
)
from runtime.models._telemetry import generate_call, stream_call
from stores._shared import LoopClients, run_sync

if typing.TYPE_CHECKING:
    import httpx2

MessagesInput: TypeAlias = str | MessageLike | Sequence[MessageLike]
ToolLike: TypeAlias = Mapping[str, Any] | Callable[..., Any]
ToolChoice: TypeAlias = str | Mapping[str, Any] | None
EventT = TypeVar("EventT")


@runtime_checkable
class ChatModel(Protocol):
    """What the runtime and user code need from a chat model."""

    async def ainvoke(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AIMessage:
        """One reply to ``messages``."""
        ...

    def astream(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AsyncGenerator[AIMessageChunk]:
        """The reply to ``messages`` as chunks."""
        ...

    def invoke(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AIMessage:
        """Blocking twin of ``ainvoke``."""
        ...

    def stream(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        """Blocking twin of ``astream``."""
        ...

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
    ) -> Self:
        """A copy of the model that offers ``tools`` on every call."""
        ...


class ToolSpec(msgspec.Struct, frozen=True):
    """A tool in provider-neutral form: a name, a description and a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


class CallOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The per-call settings an adapter turns into request parameters."""

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = None
    stop: list[str] | None = None
    extra: dict[str, Any] = {}


def to_tool_spec(tool: ToolLike) -> ToolSpec:
    """Turn an OpenAI-style, Anthropic-style or Python-function tool into a ToolSpec.

    Raises:
        ValueError: a dict that is neither tool format.
        TypeError: a function whose parameters cannot be described in JSON schema.
    """
    if is_mapping(tool):
        inner: object = (
            tool.get("function", tool) if tool.get("type") == "function" else tool
        )
        spec: Mapping[str, Any] = inner if is_mapping(inner) else {}
        schema: object = spec.get("parameters", spec.get("input_schema"))
        if not isinstance(spec.get("name"), str) or not is_mapping(schema):
            raise ValueError(
                "a tool dict needs {'type': 'function', 'function': {'name', 'parameters'}} "
                f"or {{'name', 'input_schema'}}, got keys {sorted(tool)}"
            )
        return ToolSpec(spec["name"], spec.get("description") or "", dict(schema))
    if callable(tool):
        return _function_spec(tool)
    raise TypeError(
        f"cannot use {type(tool).__name__} as a tool; pass a dict or function"
    )


def _function_spec(fn: Callable[..., Any]) -> ToolSpec:
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        hints = typing.get_type_hints(fn)
        fields: list[Any] = []
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"*{param.name} cannot be described")
            default = () if param.default is param.empty else (param.default,)
            fields.append((param.name, hints.get(param.name, Any), *default))
        schema = msgspec.json.schema(msgspec.defstruct(name, fields, kw_only=True))
    except (TypeError, NameError, ValueError) as exc:
        raise TypeError(f"tool {name!r} has no JSON schema: {exc}") from exc
    defs = schema.get("$defs", {})
    params = defs.pop(name)
    params.pop("title", None)
    if defs:
        params["$defs"] = defs
    description, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    for arg, text in arg_docs.items():
        if arg in params.get("properties", {}):
            params["properties"][arg].setdefault("description", text)
    return ToolSpec(name, description, params)


_ARG = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary and the ``Args:`` descriptions of a Google-style docstring."""
    summary, _, rest = doc.partition("\nArgs:\n")
    summary = re.split(r"\n(?:Returns|Raises|Yields):\n", summary)[0].strip()
    args: dict[str, str] = {}
    for line in rest.splitlines():
        if line and not line[0].isspace():
            break
        if match := _ARG.match(line):
            args[match[1]] = match[2].strip()
    return summary, args


def wire_blocks(content: Sequence[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A message's content blocks as a provider's request takes them.

    A bare string becomes a text block; a block loses the ``index`` that
    streaming gave it.
    """
    return [
        {"type": "text", "text": b}
        if isinstance(b, str)
        else {k: v for k, v in b.items() if k != "index"}
        for b in content
    ]


def coerce_messages(messages: MessagesInput) -> list[AnyMessage]:
    """A prompt (str, message, pair or dict) or a sequence of them, as our messages.

    Raises ValueError or TypeError like ``coerce_message``.
    """
    pair = (
        isinstance(messages, tuple)
        and len(messages) == 2
        and isinstance(messages[0], str)
    )  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(messages, list | tuple) and not pair:
        return [coerce_message(m) for m in messages]  # pyright: ignore[reportUnknownVariableType]
    return [coerce_message(messages)]


def _event_data(event: bytes) -> str | None:
    lines = re.findall(r"^data: ?(.*?)\r?$", event.decode(), re.MULTILINE)
    return "\n".join(lines) if lines else None


async def sse_events(response: httpx2.Response) -> AsyncGenerator[str]:
    """The ``data`` of each server-sent event in a body, read to its end.

    Reads through ``aiter_bytes`` under ``aclosing``, which closes httpx's
    generator chain when the caller stops early.
    """
    pending = b""
    async with aclosing(response.aiter_bytes()) as chunks:
        async for chunk in chunks:
            *events, pending = re.split(rb"\r?\n\r?\n", pending + chunk)
            for event in events:
                if (data := _event_data(event)) is not None:
                    yield data
    if (data := _event_data(pending)) is not None:
        yield data


async def stream_chunks(
    response: httpx2.Response,
    convert: Callable[[EventT], AIMessageChunk | None],
) -> AsyncGenerator[AIMessageChunk]:
    """``convert`` applied to each event's JSON data (``[DONE]`` skipped), Nones dropped.

    ``EventT`` is the adapter's TypedDict for an event: the JSON is what the
    server sent, read by the adapter with ``.get``.

    When an event fails (an error event, malformed JSON), what is left of the
    body is read for up to a second before the error propagates: servers end
    the stream right after an error, and a stream read to its end closes
    cleanly instead of abandoning httpx's generators.
    """
    async with aclosing(sse_events(response)) as events:
        async for data in events:
            if data == "[DONE]":
                continue  # read on to the end of the body
            try:
                chunk = convert(json.loads(data))
            except (ChatModelError, json.JSONDecodeError):
                with anyio.move_on_after(1):
                    async for _ in events:
                        pass
                raise
            if chunk is not None:
                yield chunk


class BaseChatModel:
    """The body shared by ChatAnthropic and ChatOpenAI (not public)."""

    provider: ClassVar[str] = ""

    def __init__(
        self,
        *,
        model: str,
        max_tokens: int | None,
        temperature: float | None,
        timeout: float | None,
        max_retries: int,
        api_key: str | None,
        base_url: str | None,
        model_kwargs: Mapping[str, Any] | None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.model_kwargs = dict(model_kwargs or {})
        self._api_key = api_key
        self._base_url = base_url
        self._tools: tuple[ToolSpec, ...] = ()
        self._tool_choice: ToolChoice = None
        self._clients: LoopClients[Any] = LoopClients(self._new_client)

    def __repr__(self) -> str:
        tools = f", tools={[t.name for t in self._tools]}" if self._tools else ""
        return f"{type(self).__name__}(model={self.model!r}{tools})"

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"api_key": self._api_key, "base_url": self._base_url}
        options["max_retries"] = self.max_retries
        if self.timeout is not None:
            options["timeout"] = self.timeout
        return options

    def _new_client(self) -> Any:
        raise NotImplementedError

    async def _agenerate(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> AIMessage:
        raise NotImplementedError

    def _astream_chunks(
        self, messages: list[AnyMessage], options: CallOptions
    ) -> AsyncGenerator[AIMessageChunk]:
        raise NotImplementedError

    def _options(self, kwargs: Mapping[str, Any]) -> CallOptions:
        extra = {**self.model_kwargs, **kwargs}
        tools = extra.pop("tools", None)
        specs = self._tools if tools is None else tuple(to_tool_spec(t) for t in tools)
        choice = extra.pop("tool_choice", self._tool_choice)
        stop = extra.pop("stop", None)
        stop = [stop] if isinstance(stop, str) else stop
        return CallOptions(tools=specs, tool_choice=choice, stop=stop, extra=extra)

    async def ainvoke(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AIMessage:
        """One reply to ``messages``; in a run streaming "messages", streamed and emitted.

        ``config`` is accepted for LangChain compatibility and ignored; other
        keyword arguments (``stop``, ``tools``, ``tool_choice``, or any SDK
        parameter) apply to this call. Cancellation closes the request.

        Raises:
            ChatModelError: the API failed after the SDK's retries.
            ValueError, TypeError: ``messages`` or tools are malformed.
        """
        if not wants_messages():
            return await generate_call(
                self, coerce_messages(messages), self._options(kwargs)
            )
        total: AIMessageChunk | None = None
        async with aclosing(self.astream(messages, config, **kwargs)) as chunks:
            async for chunk in chunks:
                total = chunk if total is None else total + chunk
        if total is None:
            raise ChatModelError(
                f"{self.provider} stream ended without a reply", provider=self.provider
            )
        return message_chunk_to_message(total)

    async def astream(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AsyncGenerator[AIMessageChunk]:
        """The reply as AIMessageChunks (``+`` them to aggregate), each also emitted to the run.

        Leaving early (``break`` inside ``aclosing``) closes the HTTP stream.
        Raises like ``ainvoke``.
        """
        chunks = stream_call(self, coerce_messages(messages), self._options(kwargs))
        async with aclosing(chunks):
            async for chunk in chunks:
                await emit_message(chunk)
                yield chunk

    def invoke(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> AIMessage:
        """Blocking twin of ``ainvoke``; runs where ``Entrypoint.invoke`` runs."""
        return run_sync(self.ainvoke, messages, config, **kwargs)

    def stream(
        self, messages: MessagesInput, config: Any = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        """Blocking twin of ``astream``: the chunks arrive once the reply is complete.

        Runs where ``Entrypoint.invoke`` runs.
        """
        yield from run_sync(self._collect, messages, config, kwargs)

    async def _collect(
        self, messages: MessagesInput, config: Any, kwargs: dict[str, Any]
    ) -> list[AIMessageChunk]:
        async with aclosing(self.astream(messages, config, **kwargs)) as chunks:
            return [chunk async for chunk in chunks]

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
    ) -> Self:
        """A copy offering ``tools`` on every call (sharing this model's connections).

        ``tool_choice``: "auto", "any" (or "required"), "none", a tool name, or
        a provider-format dict. Raises ValueError/TypeError for a malformed tool.
        """
        bound = copy.copy(self)
        bound._tools = tuple(to_tool_spec(t) for t in tools)
        bound._tool_choice = tool_choice
        return bound

    async def aclose(self) -> None:
        """Close the HTTP connections this event loop opened; the model stays usable."""
        await self._clients.aclose()
