"""InMemoryStore-only behaviour: an injected clock for TTL and timestamps, sweeping, ties."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from stores._base import GetOp, PutOp, SearchOp
from stores._memory_store import InMemoryStore
from stores.embeddings._hashing import HashingEmbeddings

if TYPE_CHECKING:
    from collections.abc import Sequence


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keys(results: Sequence[Any]) -> list[str]:
    return [r.key for r in results]


async def test_timestamps_come_from_the_clock(clock: Clock) -> None:
    store = InMemoryStore(clock=clock)
    await store.aput(("a",), "k", {"v": 1})
    clock.advance(1)
    await store.aput(("a",), "k", {"v": 2})
    item = await store.aget(("a",), "k")
    assert item is not None
    assert item.created_at == datetime.fromtimestamp(1_000_000.0, tz=UTC)
    assert item.updated_at == datetime.fromtimestamp(1_000_060.0, tz=UTC)


async def test_equal_timestamps_order_by_latest_write(clock: Clock) -> None:
    store = InMemoryStore(clock=clock)
    for key in ["a", "b", "c"]:
        await store.aput(("o",), key, {"v": key})
    await store.aput(("o",), "a", {"v": "again"})
    assert keys(await store.asearch(("o",))) == ["a", "c", "b"]


async def test_per_put_ttl_expires_everywhere(clock: Clock) -> None:
    store = InMemoryStore(clock=clock)
    await store.aput(("t", "x"), "short", {"v": 1}, ttl=1)
    await store.aput(("t", "x"), "forever", {"v": 2})
    await store.aput(("t", "y"), "short2", {"v": 3}, ttl=1)
    clock.advance(0.99)
    assert await store.aget(("t", "x"), "short", refresh_ttl=False) is not None
    clock.advance(0.02)
    assert await store.aget(("t", "x"), "short") is None
    assert keys(await store.asearch(("t",))) == ["forever"]
    assert await store.alist_namespaces() == [("t", "x")]
    # Swept, not just hidden: only the live item is still held.
    held = store._data  # pyright: ignore[reportPrivateUsage]
    assert {ns: sorted(bucket) for ns, bucket in held.items()} == {
        ("t", "x"): ["forever"]
    }


async def test_store_default_ttl_and_per_put_override(clock: Clock) -> None:
    store = InMemoryStore(ttl=10, clock=clock)
    await store.aput(("d",), "default", {"v": 1})
    await store.aput(("d",), "long", {"v": 2}, ttl=60)
    clock.advance(11)
    assert keys(await store.asearch(("d",))) == ["long"]


async def test_reads_refresh_ttl_unless_told_not_to(clock: Clock) -> None:
    store = InMemoryStore(ttl={"default_ttl": 1}, clock=clock)
    await store.aput(("r",), "get", {"v": 1})
    await store.aput(("r",), "search", {"v": 2})
    await store.aput(("r",), "norefresh", {"v": 3})
    clock.advance(0.75)
    assert await store.aget(("r",), "get") is not None
    assert await store.aget(("r",), "norefresh", refresh_ttl=False) is not None
    assert keys(await store.asearch(("r",), filter={"v": 2})) == ["search"]
    clock.advance(0.5)
    assert sorted(keys(await store.asearch(("r",), refresh_ttl=False))) == [
        "get",
        "search",
    ]
    clock.advance(0.6)
    assert await store.aget(("r",), "get") is None


async def test_search_refreshes_only_the_returned_page(clock: Clock) -> None:
    store = InMemoryStore(ttl=1, clock=clock)
    await store.aput(("p",), "old", {"v": 1})
    clock.advance(0.1)
    await store.aput(("p",), "new", {"v": 2})
    clock.advance(0.8)
    assert keys(await store.asearch(("p",), limit=1)) == ["new"]
    clock.advance(0.5)
    assert keys(await store.asearch(("p",), refresh_ttl=False)) == ["new"]


async def test_refresh_on_read_false_never_refreshes(clock: Clock) -> None:
    store = InMemoryStore(ttl={"default_ttl": 1, "refresh_on_read": False}, clock=clock)
    await store.aput(("n",), "k", {"v": 1})
    clock.advance(0.9)
    assert await store.aget(("n",), "k") is not None
    clock.advance(0.2)
    assert await store.aget(("n",), "k") is None


async def test_update_restarts_ttl_and_expired_key_can_be_reused(clock: Clock) -> None:
    store = InMemoryStore(clock=clock)
    await store.aput(("u",), "k", {"v": 1}, ttl=1)
    clock.advance(0.9)
    await store.aput(("u",), "k", {"v": 2}, ttl=1)
    clock.advance(0.9)
    item = await store.aget(("u",), "k", refresh_ttl=False)
    assert item is not None
    assert item.value == {"v": 2}
    clock.advance(0.2)
    assert await store.aget(("u",), "k") is None
    await store.aput(("u",), "k", {"v": 3})
    item = await store.aget(("u",), "k")
    assert item is not None
    assert item.created_at == item.updated_at


async def test_query_without_index_is_ignored() -> None:
    store = InMemoryStore()
    await store.aput(("q",), "a", {"text": "my name is Bob"})
    results = await store.asearch(("q",), query="what is my name")
    assert keys(results) == ["a"]
    assert results[0].score is None


async def test_failing_embedder_leaves_the_store_unchanged() -> None:
    class Boom(Exception):
        pass

    async def boom(texts: list[str]) -> list[list[float]]:
        raise Boom(texts)

    store = InMemoryStore(index={"dims": 4, "embed": boom})
    with pytest.raises(Boom):
        await store.abatch(
            [
                PutOp(namespace=("b",), key="first", value={"v": 1}, index=False),
                PutOp(namespace=("b",), key="second", value={"text": "x"}),
            ]
        )
    assert await store.alist_namespaces() == []


async def test_batches_are_atomic_around_the_embedding_call() -> None:
    gate = anyio.Event()
    inner = HashingEmbeddings(16)

    async def slow(texts: list[str]) -> list[list[float]]:
        await gate.wait()
        return inner.embed_documents(texts)

    store = InMemoryStore(index={"dims": 16, "embed": slow})
    seen: list[Any] = []

    async def writer() -> None:
        await store.abatch(
            [
                PutOp(namespace=("x",), key="a", value={"text": "one"}),
                PutOp(namespace=("x",), key="b", value={"text": "two"}),
            ]
        )

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            await anyio.wait_all_tasks_blocked()
            seen.append(await store.abatch([GetOp(namespace=("x",), key="a")]))
            gate.set()
    assert seen == [[None]]
    assert keys(await store.asearch(("x",))) == ["b", "a"]


async def test_texts_are_embedded_once_per_part() -> None:
    calls: list[list[str]] = []
    inner = HashingEmbeddings(16)

    def record(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return inner.embed_documents(texts)

    store = InMemoryStore(
        index={"dims": 16, "embed": record, "fields": ["a", "b[*]", "$"]}
    )
    await store.abatch(
        [
            PutOp(namespace=("e",), key="k", value={"a": "x", "b": ["y", "", None, 3]}),
            SearchOp(namespace_prefix=("e",), query="x"),
        ]
    )
    # LangGraph's texts: json.dumps(value, sort_keys=True, ensure_ascii=False)
    assert calls == [["x", "y", "3", '{"a": "x", "b": ["y", "", null, 3]}', "x"]]


def test_sync_api_outside_an_event_loop() -> None:
    store = InMemoryStore(index={"dims": 32, "embed": HashingEmbeddings(32)})
    store.put(("s",), "bob", {"text": "my name is Bob"})
    store.put(("s",), "pizza", {"text": "I like pizza"})
    assert keys(store.search(("s",), query="what is my name")) == ["bob", "pizza"]
    store.delete(("s",), "bob")
    assert store.get(("s",), "bob") is None
    assert store.list_namespaces() == [("s",)]
    assert store.index_config is not None
    assert store.index_config.fields == ("$",)
