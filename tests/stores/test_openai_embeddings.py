"""OpenAIEmbeddings against a local server speaking the OpenAI /v1/embeddings protocol."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import anyio
import pytest

from stores._errors import StoreError, StoreUnavailableError
from stores.embeddings._hashing import Embeddings
from stores.embeddings._openai import OpenAIEmbeddings
from tests.fake_llm_servers import FakeLLMServer, Reply, error, fake_vector

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

PATH = "/v1/embeddings"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def embeddings(server: FakeLLMServer) -> AsyncIterator[OpenAIEmbeddings]:
    model = OpenAIEmbeddings(
        "embed-test",
        api_key="sk-test",
        base_url=f"{server.url}/v1",
        batch_size=2,
        max_retries=2,
    )
    yield model
    await model.aclose()


def test_implements_the_embeddings_protocol() -> None:
    assert isinstance(OpenAIEmbeddings(api_key="k"), Embeddings)


async def test_batches_texts_and_keeps_their_order(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    vectors = await embeddings.aembed_documents(texts)
    assert vectors == [
        fake_vector(t, 8) for t in texts
    ]  # the server answers in reverse
    sent = [r.json for r in server.requests_to(PATH)]
    assert [body["input"] for body in sent] == [
        ["alpha", "beta"],
        ["gamma", "delta"],
        ["epsilon"],
    ]
    assert {body["model"] for body in sent} == {"embed-test"}
    assert all("dimensions" not in body for body in sent)
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_dimensions_are_sent_and_honoured(server: FakeLLMServer) -> None:
    model = OpenAIEmbeddings("m", 5, api_key="k", base_url=f"{server.url}/v1")
    try:
        vector = await model.aembed_query("hello")
    finally:
        await model.aclose()
    assert vector == fake_vector("hello", 5)
    (request,) = server.requests
    assert request.json["dimensions"] == 5
    assert request.json["input"] == ["hello"]


async def test_no_texts_means_no_request(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    assert await embeddings.aembed_documents([]) == []
    assert server.requests == []


async def test_empty_strings_are_sent_as_a_space(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    vectors = await embeddings.aembed_documents(["", "x"])
    assert server.requests[0].json["input"] == [" ", "x"]
    assert vectors[0] == fake_vector(" ", 8)


async def test_env_vars_supply_key_and_base_url(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    model = OpenAIEmbeddings()
    try:
        await model.aembed_query("q")
    finally:
        await model.aclose()
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"
    assert server.requests[0].json["model"] == "text-embedding-3-small"


async def test_rate_limit_is_retried_by_the_sdk(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    server.script(PATH, error(429, "slow down"))
    assert await embeddings.aembed_query("x") == fake_vector("x", 8)
    assert len(server.requests) == 2


async def test_server_errors_after_retries_are_store_unavailable(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    server.script(PATH, error(500), error(502), error(503), error(500))
    with pytest.raises(StoreUnavailableError, match=r"HTTP 503") as info:
        await embeddings.aembed_query("x")
    assert len(server.requests) == 1 + embeddings.max_retries
    assert info.value.__cause__ is not None


async def test_rejected_requests_are_store_errors_without_retry(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    server.script(PATH, error(400, "dimensions not supported"))
    with pytest.raises(StoreError, match=r"HTTP 400.*dimensions not supported") as info:
        await embeddings.aembed_query("x")
    assert not isinstance(info.value, StoreUnavailableError)
    assert len(server.requests) == 1


async def test_malformed_json_is_store_unavailable(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    server.script(PATH, Reply(body=b'{"data": [oops'))
    with pytest.raises(StoreUnavailableError, match="JSONDecodeError"):
        await embeddings.aembed_query("x")


async def test_wrong_vector_count_is_reported(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    server.script(
        PATH, Reply(json={"object": "list", "data": [], "model": "m", "usage": None})
    )
    with pytest.raises(StoreUnavailableError, match="No embedding data"):
        await embeddings.aembed_documents(["a", "b"])
    server.script(
        PATH,
        Reply(
            json={
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}],
                "model": "m",
                "usage": None,
            }
        ),
    )
    with pytest.raises(StoreUnavailableError, match="1 vectors for 2 texts"):
        await embeddings.aembed_documents(["a", "b"])


async def test_unreachable_server_is_store_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAIEmbeddings(
        api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    )
    try:
        with pytest.raises(StoreUnavailableError, match="APIConnectionError"):
            await model.aembed_query("x")
    finally:
        await model.aclose()


async def test_missing_api_key_is_a_clear_store_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAIEmbeddings(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(StoreError, match="OPENAI_API_KEY"):
        await model.aembed_query("x")


async def test_sync_twins_from_a_worker_thread(
    server: FakeLLMServer, embeddings: OpenAIEmbeddings
) -> None:
    vectors = await anyio.to_thread.run_sync(
        embeddings.embed_documents, ["a", "b", "c"]
    )
    assert vectors == [fake_vector(t, 8) for t in "abc"]
    assert await anyio.to_thread.run_sync(embeddings.embed_query, "q") == fake_vector(
        "q", 8
    )


async def test_sync_twin_inside_the_loop_runs_on_the_shared_loop(
    embeddings: OpenAIEmbeddings,
) -> None:
    # A notebook cell: the call blocks this loop and runs on the shared one.
    assert embeddings.embed_query("x") == fake_vector("x", 8)


def test_sync_twins_from_plain_sync_code(server: FakeLLMServer) -> None:
    model = OpenAIEmbeddings(api_key="k", base_url=f"{server.url}/v1", batch_size=1)
    assert model.embed_documents(["a", "b"]) == [
        fake_vector("a", 8),
        fake_vector("b", 8),
    ]
    assert model.embed_query("c") == fake_vector(
        "c", 8
    )  # a second call reuses the shared loop's client
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"batch_size": 0}, "batch_size"), ({"dimensions": 0}, "dimensions")],
)
def test_bad_settings_are_value_errors(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OpenAIEmbeddings(api_key="k", **kwargs)  # type: ignore[arg-type]
