"""Behaviour both adapters share, run against each provider's wire protocol."""

from __future__ import annotations

import socket
import struct
from contextlib import aclosing
from types import SimpleNamespace
from typing import TYPE_CHECKING

import anyio
import pytest

from runtime._messages import AIMessage, AIMessageChunk, HumanMessage, RemoveMessage
from runtime.models import ChatModel, ChatModelError
from tests.fake_llm_servers import Reply, anthropic_stream, error

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from runtime.models._base import BaseChatModel
    from tests.fake_llm_servers import FakeLLMServer

    from .conftest import MessagesRun, Provider


async def drain(chunks: AsyncGenerator[AIMessageChunk]) -> list[AIMessageChunk]:
    async with aclosing(chunks):
        return [chunk async for chunk in chunks]


async def test_adapters_implement_the_protocol(model: BaseChatModel) -> None:
    assert isinstance(model, ChatModel)
    assert "sk-" not in repr(model)


async def test_ainvoke_makes_one_plain_call(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, provider.reply("Hello there"))
    reply = await model.ainvoke("hi")
    assert type(reply) is AIMessage
    assert reply.content == "Hello there"
    assert reply.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
    }
    assert reply.response_metadata["model_provider"] == provider.name
    (request,) = server.requests
    assert request.path == provider.path
    assert not request.json.get("stream")


async def test_astream_yields_chunks_that_add_up(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, provider.stream(["Hel", "lo", "!"]))
    chunks = [chunk async for chunk in model.astream([HumanMessage("hi")])]
    assert all(type(c) is AIMessageChunk for c in chunks)
    assert [c.content for c in chunks if c.content] == ["Hel", "lo", "!"]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.content == "Hello!"
    assert total.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
    }
    assert total.id is not None
    assert server.requests[0].json["stream"] is True


async def test_astream_emits_every_chunk_to_the_run(
    provider: Provider,
    server: FakeLLMServer,
    model: BaseChatModel,
    messages_run: MessagesRun,
) -> None:
    server.script(provider.path, provider.stream(["a", "b"]))
    chunks = [chunk async for chunk in model.astream("hi")]
    assert messages_run.chunks == chunks
    assert len(chunks) >= 2


async def test_ainvoke_streams_under_the_hood_in_a_messages_run(
    provider: Provider,
    server: FakeLLMServer,
    model: BaseChatModel,
    messages_run: MessagesRun,
) -> None:
    server.script(provider.path, provider.stream(["Hi ", "you"]))
    reply = await model.ainvoke("hi")
    assert type(reply) is AIMessage
    assert reply.content == "Hi you"
    assert reply.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
    }
    assert server.requests[0].json["stream"] is True
    assert [c.content for c in messages_run.chunks if c.content] == ["Hi ", "you"]


async def test_retryable_errors_are_retried_by_the_sdk(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(
        provider.path,
        error(429, headers={"retry-after": "0.001"}),
        error(500),
        provider.reply("ok"),
    )
    reply = await model.ainvoke("hi")
    assert reply.content == "ok"
    assert len(server.requests) == 3
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == [
        "0",
        "1",
        "2",
    ]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_errors_after_retries_become_chat_model_errors(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel, status: int
) -> None:
    server.script(provider.path, *[error(status, "overloaded")] * 5)
    with pytest.raises(ChatModelError, match=rf"HTTP {status}.*overloaded") as info:
        await model.ainvoke("hi")
    assert info.value.status_code == status
    assert info.value.provider == provider.name
    assert info.value.__cause__ is not None
    assert len(server.requests) == 1 + model.max_retries


async def test_streaming_errors_after_retries_become_chat_model_errors(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, *[error(529)] * 3)
    with pytest.raises(ChatModelError, match="HTTP 529") as info:
        await drain(model.astream("hi"))
    assert info.value.status_code == 529
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, error(401, "invalid x-api-key"))
    with pytest.raises(ChatModelError, match="check the API key") as info:
        await model.ainvoke("hi")
    assert info.value.status_code == 401
    assert len(server.requests) == 1


async def test_malformed_json_is_a_chat_model_error(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, Reply(body=b'{"id": "x", oops'))
    with pytest.raises(ChatModelError, match="JSONDecodeError") as info:
        await model.ainvoke("hi")
    assert info.value.status_code is None


async def test_unreachable_server_is_a_chat_model_error(provider: Provider) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    model = provider.make(SimpleNamespace(url=url), max_retries=0)
    try:
        with pytest.raises(ChatModelError, match="APIConnectionError"):
            await model.ainvoke("hi")
    finally:
        await model.aclose()


async def test_timeout_is_passed_to_the_sdk(
    provider: Provider, server: FakeLLMServer
) -> None:
    server.script(
        provider.path, Reply(events=[], hold_open=True)
    )  # headers, then silence
    model = provider.make(server, timeout=0.2, max_retries=0)
    try:
        with pytest.raises(ChatModelError, match="APITimeoutError"):
            await model.ainvoke("hi")
    finally:
        await model.aclose()


# Under trio, abandoning a stream makes httpx2's transport drop one inner async
# generator (AsyncResponseStream.__aiter__ does not close the pool's iterator),
# which trio reports as a ResourceWarning. The connection itself is closed,
# which is what this test checks.
@pytest.mark.filterwarnings("ignore:Async generator 'httpcore2:ResourceWarning")
async def test_leaving_a_stream_early_closes_the_connection(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, provider.stream(["first"], hold_open=True))
    seen: list[AIMessageChunk] = []
    with anyio.fail_after(10):
        async with aclosing(model.astream("hi")) as chunks:
            async for chunk in chunks:
                seen.append(chunk)
                if chunk.content:
                    break
        assert await anyio.to_thread.run_sync(server.client_disconnected.wait, 5)
    assert seen[-1].content == "first"


def test_a_client_reset_counts_as_a_disconnect(server: FakeLLMServer) -> None:
    # A client that closes its socket with events still unread (as httpx does
    # when a stream is left early and the next event has already arrived)
    # sends a reset, not a FIN; the test above must not take it for a hang.
    server.script("/v1/messages", anthropic_stream(["first"], hold_open=True))
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
        )
        assert sock.recv(1)  # the stream has started
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert server.client_disconnected.wait(5)


async def test_remove_messages_cannot_be_sent(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    with pytest.raises(ValueError, match="add_messages"):
        await model.ainvoke([HumanMessage("hi"), RemoveMessage(id="1")])
    with pytest.raises(TypeError, match="cannot turn int"):
        await model.ainvoke([42])
    assert server.requests == []


async def test_bind_tools_returns_a_new_model(
    provider: Provider, model: BaseChatModel
) -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    bound = model.bind_tools([lookup], tool_choice="lookup")
    assert bound is not model
    assert type(bound) is type(model)
    assert "lookup" in repr(bound)
    assert "tools" not in repr(model)


async def test_sync_twins_from_a_worker_thread(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, provider.reply("sync"), provider.stream(["s", "t"]))
    reply = await anyio.to_thread.run_sync(model.invoke, "hi")
    assert reply.content == "sync"
    chunks = await anyio.to_thread.run_sync(lambda: list(model.stream("hi")))
    assert "".join(c.text for c in chunks) == "st"


async def test_sync_twin_inside_the_event_loop_runs_on_the_shared_loop(
    provider: Provider, server: FakeLLMServer, model: BaseChatModel
) -> None:
    server.script(provider.path, provider.reply("in a loop"))
    assert model.invoke("hi").content == "in a loop"


@pytest.mark.parametrize("name", ["anthropic", "openai"])
def test_sync_twins_from_plain_sync_code(name: str, server: FakeLLMServer) -> None:
    from .conftest import PROVIDERS

    provider = PROVIDERS[name]
    server.script(provider.path, provider.reply("one"), provider.stream(["tw", "o"]))
    model = provider.make(server)
    assert model.invoke([("user", "hi")]).content == "one"
    assert "".join(c.text for c in model.stream("hi")) == "two"
    assert len(server.requests) == 2
