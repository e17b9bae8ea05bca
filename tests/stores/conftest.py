"""Store fixtures: one factory per store kind for the contract suite (asyncio and trio).

To run the contract suite on another store, add one entry to
``STORE_FACTORIES`` (and its marks to ``STORE_MARKS``). A factory gets an
``AsyncExitStack`` that is closed at teardown, plus the ``index`` and
``ttl`` to build the store with; it must return a fresh, empty, isolated
store and push whatever cleans it up (close, delete keys) onto the stack.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from stores._memory_store import InMemoryStore
from stores.embeddings._hashing import HashingEmbeddings
from stores.redis._saver import RedisSaver
from tests.redis_server import (
    drop_prefix,
    has_query_engine,
    new_prefix,
    redis_store_factory,
    session_url,
    stop_session_server,
)

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Iterator,
        Sequence,
    )

    from stores._base import BaseStore


class MakeStore(Protocol):
    """What the ``make_store`` fixture returns."""

    async def __call__(self, *, index: Any = None, ttl: Any = None) -> BaseStore: ...


async def _memory_store(stack: AsyncExitStack, index: Any, ttl: Any) -> BaseStore:
    return await stack.enter_async_context(InMemoryStore(index=index, ttl=ttl))


STORE_FACTORIES: dict[
    str, Callable[[AsyncExitStack, Any, Any], Awaitable[BaseStore]]
] = {
    "memory": _memory_store,
    "redis": redis_store_factory,
}
"""Store kind -> async factory ``(stack, index, ttl) -> store``."""

STORE_MARKS: dict[str, Sequence[pytest.MarkDecorator]] = {"redis": [pytest.mark.redis]}
"""Store kind -> marks for its contract tests, e.g. ``{"redis": [pytest.mark.redis]}``."""


def _store_params() -> list[Any]:
    return [
        pytest.param(kind, id=kind, marks=tuple(STORE_MARKS.get(kind, ())))
        for kind in STORE_FACTORIES
    ]


@pytest.fixture(params=_store_params())
async def make_store(request: pytest.FixtureRequest) -> AsyncGenerator[MakeStore]:
    """An async factory ``make_store(index=None, ttl=None)`` for the store kind under test."""
    factory = STORE_FACTORIES[request.param]
    async with AsyncExitStack() as stack:

        async def make(*, index: Any = None, ttl: Any = None) -> BaseStore:
            return await factory(stack, index, ttl)

        yield make


class CountingEmbeddings:
    """HashingEmbeddings that records every call, to check one call per batch."""

    def __init__(self, dims: int = 128) -> None:
        self.dims = dims
        self.inner = HashingEmbeddings(dims)
        self.calls: list[list[str]] = []

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return await self.inner.aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        self.calls.append([text])
        return await self.inner.aembed_query(text)


@pytest.fixture
def embedder() -> CountingEmbeddings:
    """A fresh counting embedder (128 dims)."""
    return CountingEmbeddings()


# -- Redis: one server per session (REDIS_URL, or the embedded one) --------------


@pytest.fixture(scope="session", autouse=True)
def _stop_redis_at_session_end() -> Iterator[None]:
    """Stop the session's embedded Redis (started on first use) when the session ends."""
    yield
    stop_session_server()


@pytest.fixture
def redis_url() -> str:
    """The session's Redis url; skips the test if it has no query engine."""
    url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST fails)")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys and index are dropped at teardown."""
    prefix = new_prefix()
    yield prefix
    drop_prefix(prefix)


@pytest.fixture
async def make_saver(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., RedisSaver]]:
    """Savers on the session Redis under this test's prefix, closed at teardown."""
    savers: list[RedisSaver] = []

    def make(**kwargs: Any) -> RedisSaver:
        saver = RedisSaver(redis_url, prefix=redis_prefix, **kwargs)
        savers.append(saver)
        return saver

    yield make
    for saver in savers:
        await saver.aclose()
