"""Task-result caches: ``entrypoint(cache=...)`` with ``cache_policy=`` as in LangGraph."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest
import redis.asyncio

# from langgraph.func import entrypoint, task
# from langgraph.types import CachePolicy
from runtime import CachePolicy, entrypoint, task

# from langgraph.cache.memory import InMemoryCache
# from langgraph.cache.redis import RedisCache  (ours takes a URL, not a client)
from stores import InMemoryCache, RedisCache
from tests.redis_server import new_prefix, session_url


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """RedisCache needs asyncio (redis.asyncio)."""
    return "asyncio"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cache(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        yield InMemoryCache()
        return
    async with AsyncExitStack() as stack:
        made = await stack.enter_async_context(
            RedisCache(session_url(), prefix=new_prefix())
        )
        stack.push_async_callback(made.aclear)
        yield made


async def test_get_set_clear(cache: Any) -> None:
    a, b, c = (("graph", "node1"), "k1"), (("graph", "node2"), "k2"), (("x:y",), "k")
    await cache.aset({a: (b"1", None), b: (b"2", 60), c: (b"3", None)})
    assert await cache.aget([a, b, c, (("graph", "node1"), "missing")]) == {
        a: b"1",
        b: b"2",
        c: b"3",
    }
    await cache.aclear([("graph", "node1")])
    assert await cache.aget([a, b, c]) == {b: b"2", c: b"3"}
    await cache.aclear([("x",)])  # a label is matched whole, never as a prefix
    assert await cache.aget([c]) == {c: b"3"}
    await cache.aclear()
    assert await cache.aget([a, b, c]) == {}


async def test_cached_task_runs_once_per_key(cache: Any) -> None:
    calls: list[int] = []

    @task(cache_policy=CachePolicy(key_func=lambda x, **_: str(x % 10)))
    async def slow(x: int) -> dict[str, int]:
        calls.append(x)
        return {"double": 2 * x}

    @entrypoint(cache=cache)
    async def main(xs: list[int]) -> list[Any]:
        return [await slow(x) for x in xs]

    assert await main.ainvoke([1, 2, 11]) == [
        {"double": 2},
        {"double": 4},
        {"double": 2},
    ]
    assert await main.ainvoke([2]) == [{"double": 4}]
    assert calls == [1, 2]  # 11 shares 1's key; the second run hit the cache
    await slow.aclear_cache(cache)
    await main.ainvoke([2])
    assert calls == [1, 2, 2]


def test_memory_cache_ttl_expires_by_its_clock() -> None:
    now = [100.0]
    cache = InMemoryCache(clock=lambda: now[0])
    key = (("n",), "k")
    cache.set({key: (b"v", 5)})
    assert cache.get([key]) == {key: b"v"}
    now[0] += 5
    assert cache.get([key]) == {}


@pytest.mark.redis
async def test_redis_cache_ttl_is_redis_expiry() -> None:
    prefix = new_prefix()
    async with RedisCache(session_url(), prefix=prefix) as cache:
        await cache.aset({(("n",), "k"): (b"v", 30), (("n",), "forever"): (b"v", None)})
        client = redis.asyncio.Redis.from_url(session_url())
        try:
            assert 0 < await client.ttl("{" + prefix + "}:n:k") <= 30
            assert await client.ttl("{" + prefix + "}:n:forever") == -1
        finally:
            await client.aclose()
        await cache.aclear()


def test_cache_policy_and_cache_are_checked() -> None:
    with pytest.raises(ValueError, match="ttl"):
        CachePolicy(ttl=0)
    with pytest.raises(TypeError, match="cache_policy"):
        task(cache_policy={"ttl": 1})(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BaseCache"):
        entrypoint(cache={})  # type: ignore[arg-type]
