"""OpenAIEmbeddings on ``openai.AsyncOpenAI``, and the per-event-loop client cache.

An SDK client owns an httpx connection pool, and a pool belongs to the event
loop that opened its connections. ``LoopClients`` therefore keeps one client
per running loop. Sync twins run on the process's shared sync loop (see
``stores._sync``), whose client is closed when that loop shuts down at
interpreter exit. The chat-model adapters in ``runtime.models`` share this
helper.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, final

import anyio
import anyio.lowlevel

from stores._errors import StoreError, StoreUnavailableError
from stores._portal import running_shared_loop
from stores._sync import run_sync

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import openai

P = ParamSpec("P")
T = TypeVar("T")


class AsyncClosable(Protocol):
    """What LoopClients needs from an SDK client."""

    async def close(self) -> None:
        """Close the connection pool."""
        ...


C = TypeVar("C", bound=AsyncClosable)


def _loop_key() -> object:
    return anyio.lowlevel.current_token().native_token


class LoopClients(Generic[C]):
    """One client per running event loop, made on first use by ``factory``."""

    __slots__ = ("_clients", "_factory", "_lock")

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._clients: dict[object, C] = {}
        self._lock = threading.Lock()

    def get(self) -> C:
        """The current loop's client; never blocks. Raises what ``factory`` raises."""
        key = _loop_key()
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                return client
            client = self._clients[key] = self._factory()
        shared = running_shared_loop()
        if shared is not None:  # this loop lives until exit: close the client then
            shared.on_exit(self.aclose)
        return client

    async def aclose(self) -> None:
        """Close the current loop's client, if any; a later call makes a new one."""
        with self._lock:
            client = self._clients.pop(_loop_key(), None)
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.close()


_RETRIABLE = frozenset({408, 409, 429})


def _openai() -> Any:
    # imported on first use: the openai package takes ~0.4 s to import
    import openai

    return openai


def _store_error(exc: openai.OpenAIError | ValueError) -> StoreError:
    status = getattr(exc, "status_code", None)
    detail = getattr(exc, "message", None) or str(exc)
    if (
        isinstance(exc, _openai().APIStatusError)
        and isinstance(status, int)
        and status < 500
        and status not in _RETRIABLE
    ):
        return StoreError(
            f"the embeddings API rejected the request (HTTP {status}): {detail}; "
            "check the model name, dimensions and API key"
        )
    if isinstance(
        exc, _openai().APIStatusError | _openai().APIConnectionError | ValueError
    ):
        where = f"HTTP {status}" if status else type(exc).__name__
        return StoreUnavailableError(
            f"the embeddings API failed after retries ({where}): {detail}; "
            "check base_url and the server, or retry later"
        )
    return StoreError(f"the OpenAI client could not be used: {detail}")


@final
class OpenAIEmbeddings:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint.

    Texts are sent ``batch_size`` per request. ``api_key`` and ``base_url``
    default to OPENAI_API_KEY and OPENAI_BASE_URL; ``timeout`` (seconds) and
    ``max_retries`` go to the SDK, which retries 408/409/429/5xx and
    connection errors itself. Empty strings are sent as a single space
    (the API rejects empty input).
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        batch_size: int = 512,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if dimensions is not None and dimensions < 1:
            raise ValueError(f"dimensions must be positive or None, got {dimensions}")
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self._api_key = api_key
        self._base_url = base_url
        self._clients = LoopClients(self._new_client)

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings(model={self.model!r}, dimensions={self.dimensions!r})"

    def _new_client(self) -> openai.AsyncOpenAI:
        return _openai().AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; one request per ``batch_size`` texts.

        Raises:
            StoreUnavailableError: the server failed or could not be reached
                after the SDK's retries.
            StoreError: the request was rejected (bad model, dimensions, key).
        """
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += await self._embed_batch(texts[start : start + self.batch_size])
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of one query; raises like ``aembed_documents``."""
        return (await self._embed_batch([text]))[0]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Blocking twin of ``aembed_documents`` (see ``stores._sync.route``)."""
        return run_sync(self.aembed_documents, texts)

    def embed_query(self, text: str) -> list[float]:
        """Blocking twin of ``aembed_query`` (see ``stores._sync.route``)."""
        return run_sync(self.aembed_query, text)

    async def aclose(self) -> None:
        """Close the HTTP connections this event loop opened (a later call reopens)."""
        await self._clients.aclose()

    async def _embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        extra: dict[str, Any] = (
            {} if self.dimensions is None else {"dimensions": self.dimensions}
        )
        try:
            response = await self._clients.get().embeddings.create(
                model=self.model, input=[t or " " for t in texts], **extra
            )
        except (
            _openai().OpenAIError,
            ValueError,
        ) as exc:  # ValueError: a malformed body
            raise _store_error(exc) from exc
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise StoreUnavailableError(
                f"the embeddings API returned {len(data)} vectors for {len(texts)} texts; "
                "check that base_url points at an OpenAI-compatible server"
            )
        return [list(d.embedding) for d in data]
