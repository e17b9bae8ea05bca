"""Sync twins on Redis: one client and its pooled connections per process.

A Flask/Django view calling ``invoke`` per request must not build a loop,
a client and a connection per call. These tests count what the server saw
(``INFO stats``) and what the process holds (RSS) over many sync calls.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from runtime import entrypoint
from stores import RedisSaver, RedisStore
from stores._sync import run_sync
from tests.exit_check import run_child
from tests.redis_server import admin, drop_prefix, new_prefix

pytestmark = pytest.mark.redis


def _connections_received() -> int:
    return int(admin().info("stats")["total_connections_received"])


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def sync_saver(redis_url: str) -> Iterator[RedisSaver]:
    """A RedisSaver used from sync code; its client on the shared loop is closed at teardown."""
    prefix = new_prefix()
    saver = RedisSaver(redis_url, prefix=prefix)
    yield saver
    run_sync(saver.aclose)
    keys = list(admin().scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        admin().delete(*keys)


def _counter(saver: RedisSaver) -> Any:
    @entrypoint(checkpointer=saver)
    def count(step: int, *, previous: int | None = None) -> int:
        return (previous or 0) + step

    return count


@pytest.mark.timeout(120)
def test_many_sync_invokes_reuse_one_client(sync_saver: RedisSaver) -> None:
    count = _counter(sync_saver)
    cfg = {"configurable": {"thread_id": "many"}}
    for _ in range(200):  # warm-up: the loop, the client, allocator arenas
        count.invoke(1, cfg)
    gc.collect()
    rss, connections = _rss_mb(), _connections_received()
    for _ in range(1_500):
        count.invoke(1, cfg)
    gc.collect()
    grown, opened = _rss_mb() - rss, _connections_received() - connections
    # Before the shared loop: a client and a connection per call, +37 MB here.
    assert opened < 20, f"{opened} new Redis connections for 1,500 sync invokes"
    assert grown < 15, f"RSS grew {grown:.1f} MB over 1,500 sync invokes"
    assert count.get_state(cfg).values == 1_700


def test_sync_store_twins_share_the_connections(redis_url: str) -> None:
    prefix = new_prefix()
    store = RedisStore(redis_url, prefix=prefix)
    try:
        store.put(("warm",), "k", {"v": 0})
        connections = _connections_received()
        for i in range(200):
            store.put(("docs",), f"k{i}", {"v": i})
            item = store.get(("docs",), f"k{i}")
            assert item is not None and item.value == {"v": i}
        assert len(store.search(("docs",), limit=500)) == 200
        assert _connections_received() - connections < 5
    finally:
        run_sync(store.aclose)
        drop_prefix(prefix)


def test_sync_invoke_with_redis_inside_trio(sync_saver: RedisSaver) -> None:
    # redis.asyncio cannot run on trio, but the shared loop is asyncio.
    count = _counter(sync_saver)
    cfg = {"configurable": {"thread_id": "trio"}}

    async def main() -> tuple[int, int, Any]:
        first = count.invoke(2, cfg)
        chunks = list(count.stream(3, cfg, stream_mode="values"))
        return first, chunks[-1], count.get_state(cfg).values

    assert trio.run(main) == (2, 5, 5)


def test_interpreter_exit_closes_the_shared_loop_cleanly(redis_url: str) -> None:
    prefix = new_prefix()
    code = f"""
        from runtime import entrypoint
        from stores import RedisSaver, RedisStore

        saver = RedisSaver({redis_url!r}, prefix={prefix!r})
        store = RedisStore({redis_url!r}, prefix={prefix!r})

        @entrypoint(checkpointer=saver, store=store)
        def count(step, *, previous=None, store=None):
            store.put(("n",), "last", {{"step": step}})
            return (previous or 0) + step

        cfg = {{"configurable": {{"thread_id": "exit"}}}}
        assert count.invoke(1, cfg) == 1
        assert store.get(("n",), "last").value == {{"step": 1}}
        left_open = count.stream(2, cfg, stream_mode="values")
        assert next(left_open) == 3  # abandoned, still open at exit
        print("done")
        """
    try:
        result = run_child(code)
    finally:
        drop_prefix(prefix)
    # Nothing reported unclosed (-W error prints each), no socket left open.
    assert result == (0, "done\nopen sockets: 0\n", "")
