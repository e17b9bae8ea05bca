"""Fixtures for the chat-model adapters: a fake wire server, models, a fake "messages" run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from runtime.models import ChatAnthropic, ChatOpenAI, _base
from tests.fake_llm_servers import (
    FakeLLMServer,
    Reply,
    anthropic_message,
    anthropic_stream,
    openai_completion,
    openai_stream,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from runtime._messages import AIMessageChunk
    from runtime.models._base import BaseChatModel


@dataclass(frozen=True)
class Provider:
    """How to build a model, and its replies, for one provider."""

    name: str
    path: str
    make: Callable[..., BaseChatModel]
    reply: Callable[..., Reply]
    stream: Callable[..., Reply]


def _anthropic(server: FakeLLMServer, **kwargs: Any) -> BaseChatModel:
    return ChatAnthropic("claude-test", api_key="sk-ant", base_url=server.url, **kwargs)


def _openai(server: FakeLLMServer, **kwargs: Any) -> BaseChatModel:
    return ChatOpenAI(
        "gpt-test", api_key="sk-oai", base_url=f"{server.url}/v1", **kwargs
    )


PROVIDERS = {
    "anthropic": Provider(
        "anthropic", "/v1/messages", _anthropic, anthropic_message, anthropic_stream
    ),
    "openai": Provider(
        "openai", "/v1/chat/completions", _openai, openai_completion, openai_stream
    ),
}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Provider:
    return PROVIDERS[request.param]


@pytest.fixture
async def model(
    provider: Provider, server: FakeLLMServer
) -> AsyncIterator[BaseChatModel]:
    built = provider.make(server, max_retries=2)
    yield built
    await built.aclose()


@pytest.fixture
async def claude(server: FakeLLMServer) -> AsyncIterator[ChatAnthropic]:
    built = ChatAnthropic(
        "claude-test", api_key="sk-ant", base_url=server.url, max_retries=2
    )
    yield built
    await built.aclose()


@pytest.fixture
async def gpt(server: FakeLLMServer) -> AsyncIterator[ChatOpenAI]:
    built = ChatOpenAI(
        "gpt-test", api_key="sk-oai", base_url=f"{server.url}/v1", max_retries=2
    )
    yield built
    await built.aclose()


class MessagesRun:
    """Stands in for a run that asked for stream mode "messages"."""

    def __init__(self) -> None:
        self.chunks: list[AIMessageChunk] = []
        self.active = True  # set False to leave the run

    async def emit(self, chunk: AIMessageChunk) -> None:
        self.chunks.append(chunk)


@pytest.fixture
def messages_run(monkeypatch: pytest.MonkeyPatch) -> MessagesRun:
    run = MessagesRun()
    monkeypatch.setattr(_base, "wants_messages", lambda: run.active)
    monkeypatch.setattr(_base, "emit_message", run.emit)
    return run
