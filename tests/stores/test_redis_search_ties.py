"""Ties at the end of a KNN page: the second search of a namespace reads once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from stores.embeddings._hashing import HashingEmbeddings
from stores.redis._store import RedisStore
from tests.redis_server import drop_prefix, new_prefix

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def tied(redis_url: str) -> AsyncIterator[tuple[RedisStore, Any]]:
    """A RedisStore with 12 memories with one text: every distance ties."""
    from stores._memory_store import InMemoryStore

    prefix = new_prefix()
    index = {"dims": 64, "embed": HashingEmbeddings(64)}
    store = RedisStore(redis_url, index=index, prefix=prefix)
    await store.__aenter__()
    memory = InMemoryStore(index=index)
    for i in range(12):
        for s in (store, memory):
            await s.aput(("m", "u"), f"k{i}", {"text": "the same fact"})
    yield store, memory
    await store.aclose()
    drop_prefix(prefix)


@pytest.mark.redis
async def test_a_namespace_whose_knn_widened_starts_its_next_search_wider(
    tied: tuple[RedisStore, Any],
) -> None:
    store, memory = tied
    expected = [i.key for i in await memory.asearch(("m",), query="zzz", limit=10)]
    before = store.round_trips
    first = await store.asearch(("m",), query="zzz", limit=10)
    widened = store.round_trips - before
    assert widened == 2  # k=11 ends on a tie: read again wider
    before = store.round_trips
    second = await store.asearch(("m",), query="yyy", limit=10)
    assert store.round_trips - before == 1  # started at the wider k
    assert [i.key for i in first] == [i.key for i in second] == expected


@pytest.mark.redis
async def test_a_memory_put_into_a_small_namespace_is_still_found_in_one_read(
    redis_url: str,
) -> None:
    # A user's ten memories, all tied: the KNN (k=11) reads them all. After an
    # eleventh, k=11 would end on a tie and read again; the search starts a
    # part past what the last one read instead.
    from stores._memory_store import InMemoryStore

    prefix = new_prefix()
    index = {"dims": 64, "embed": HashingEmbeddings(64)}
    store = RedisStore(redis_url, index=index, prefix=prefix)
    memory = InMemoryStore(index=index)
    try:
        await store.__aenter__()
        for i in range(10):
            for s in (store, memory):
                await s.aput(("m", "u"), f"k{i}", {"text": "the same fact"})
        before = store.round_trips
        await store.asearch(("m",), query="zzz", limit=10)
        assert store.round_trips - before == 1  # all ten read at once
        for s in (store, memory):
            await s.aput(("m", "u"), "k10", {"text": "the same fact"})
        before = store.round_trips
        found = await store.asearch(("m",), query="yyy", limit=10)
        assert store.round_trips - before == 1
        expected = await memory.asearch(("m",), query="yyy", limit=10)
        assert [i.key for i in found] == [i.key for i in expected]
        assert [i.score for i in found] == pytest.approx([i.score for i in expected])
    finally:
        await store.aclose()
        drop_prefix(prefix)


@pytest.mark.redis
async def test_knn_hits_come_in_the_order_ranking_reads_them(
    tied: tuple[RedisStore, Any],
) -> None:
    # parse_hits takes a hit as it is when its fields come in the order
    # RediSearch returns them (distance first); any other order is rebuilt.
    # A real reply must take the first way: each hit is the reply's own list.
    import numpy as np

    from stores.redis._query import knn_args, parse_hits
    from tests.redis_server import admin

    store, _ = tied
    vector = np.full(64, 0.125, dtype=np.float32).tobytes()
    reply = admin().execute_command(*knn_args(store.index_name, [], vector, 11))
    total, hits, gone = parse_hits(reply)
    assert (total, len(hits), gone) == (11, 11, 0)  # KNN 11 of 12 parts
    assert all(h is f for h, f in zip(hits, reply[2::2], strict=True))
    assert all(h[0] == b"d" and h[10] == b"ua" for h in hits)
