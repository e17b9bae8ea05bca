"""RedisStore beyond the contract suite: layout, push-down, TTL, round trips, failures.

Where semantics matter, RedisStore is checked against InMemoryStore (the
reference) on the same data: filters pushed down to RediSearch, filters
applied in Python, and offset/limit on every search path.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from redis.crc import key_slot

from stores._base import GetOp, ListNamespacesOp, PutOp, SearchOp
from stores._errors import InvalidIndexConfigError, StoreUnavailableError
from stores._filters import parse_filter
from stores._memory_store import InMemoryStore
from stores.embeddings._hashing import HashingEmbeddings
from stores.redis._embedded import EmbeddedRedis, free_port
from stores.redis._query import compile_filter
from stores.redis._schema import parse_settings, tag
from stores.redis._store import RedisStore
from tests.redis_server import admin, drop_prefix, keys_of, new_prefix

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from stores._base import BaseStore, SearchItem

    from .conftest import CountingEmbeddings

pytestmark = pytest.mark.redis

TICK = 0.002  # lets the wall clock move between puts that must differ in updated_at


def keys(results: list[SearchItem]) -> list[str]:
    return [r.key for r in results]


def text_index(embedder: Any, *fields: str, **extra: Any) -> dict[str, Any]:
    return {"dims": 128, "embed": embedder, "fields": list(fields) or ["text"], **extra}


@pytest.fixture
async def make_redis(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[..., RedisStore]]:
    """RedisStores under this test's prefix (one index), closed at teardown.

    ``make(own_prefix=True, ...)`` puts the store on a prefix of its own
    (dropped at teardown): an index keeps the settings it was made with.
    """
    stores: list[RedisStore] = []
    extra: list[str] = []

    def make(*, own_prefix: bool = False, **kwargs: Any) -> RedisStore:
        prefix = redis_prefix
        if own_prefix:
            prefix = new_prefix()
            extra.append(prefix)
        store = RedisStore(redis_url, prefix=prefix, **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()
    for prefix in extra:
        drop_prefix(prefix)


async def put_both(
    stores: list[BaseStore],
    namespace: tuple[str, ...],
    key: str,
    value: dict[str, Any],
    **kw: Any,
) -> None:
    for store in stores:
        await store.aput(namespace, key, value, **kw)
    await anyio.sleep(TICK)


def docs(prefix: str) -> list[bytes]:
    return [k for k in keys_of(prefix) if b":d:" in k]


# -- layout: one document per embedded part ------------------------------------


async def test_every_part_is_a_document_and_stale_parts_go(
    make_redis: Callable[..., RedisStore],
    redis_prefix: str,
    embedder: CountingEmbeddings,
) -> None:
    store = make_redis(index=text_index(embedder, "tags[*]"))
    await store.aput(("m",), "x", {"tags": ["my name is Bob", "chess", "gardening"]})
    await store.aput(("one",), "ref", {"tags": ["my name is Bob"]})
    item_docs = [
        k
        for k in docs(redis_prefix)
        if k.startswith(store.item_key(("m",), "x").encode())
    ]
    assert len(item_docs) == 3
    assert len({key_slot(k) for k in item_docs}) == 1  # one hash tag per item
    (ref,) = await store.asearch(("one",), query="what is my name")
    (found,) = await store.asearch(("m",), query="what is my name")
    assert found.score == pytest.approx(
        ref.score, abs=1e-4
    )  # the first part counts, not only the last
    await store.aput(("m",), "x", {"tags": ["pizza"]})
    assert (
        len(
            [
                k
                for k in docs(redis_prefix)
                if k.startswith(store.item_key(("m",), "x").encode())
            ]
        )
        == 1
    )
    await store.aput(("m",), "x", {"tags": ["a", "b"]}, index=False)
    (plain,) = await store.asearch(("m",), query="what is my name")
    assert plain.score is None
    await store.adelete(("m",), "x")
    await store.adelete(("one",), "ref")
    assert docs(redis_prefix) == []


async def test_items_with_many_matching_parts_do_not_crowd_the_page(
    make_redis: Callable[..., RedisStore], embedder: CountingEmbeddings
) -> None:
    store = make_redis(index=text_index(embedder, "notes[*]"))
    for i in range(6):
        notes = [f"my name is Bob number {i} {j}" for j in range(12)]
        await store.aput(("n",), f"k{i}", {"notes": notes})
    await store.aput(("n",), "other", {"notes": ["pizza"]})
    found = await store.asearch(("n",), query="what is my name", limit=5)
    assert len(found) == 5
    assert len(set(keys(found))) == 5
    everything = await store.asearch(("n",), query="what is my name", limit=20)
    assert sorted(keys(everything)) == sorted([f"k{i}" for i in range(6)] + ["other"])
    assert keys(everything)[-1] == "other"
    assert (
        keys(await store.asearch(("n",), query="what is my name", offset=4, limit=2))
        == keys(everything)[4:6]
    )


async def test_prefixes_match_whole_labels_whatever_the_characters(
    make_redis: Callable[..., RedisStore],
) -> None:
    store = make_redis()
    labels = [
        "user",
        "users",
        "User",
        "user,x",
        "user x",
        " user",
        "user ",
        "us",
        "u_73er",
        "user|*",
    ]
    for label in labels:
        await store.aput((label, "a"), "k", {"label": label})
    for label in labels:
        found = await store.asearch((label,))
        assert [r.value["label"] for r in found] == [label]
        assert await store.alist_namespaces(prefix=(label,)) == [(label, "a")]
    assert len(await store.asearch((), limit=100)) == len(labels)


# -- filters: pushed down where exact, else in Python before the page ---------------

FILTER_ITEMS: dict[str, dict[str, Any]] = {
    "k1": {"kind": "note", "n": 1, "meta": {"level": 2, "lang": "en"}},
    "k2": {"kind": "Note", "n": 5.0, "meta": {"level": 7}},
    "k3": {"kind": 'x-y|z {w} "q" *', "n": True},
    "k4": {"kind": "", "n": "5"},
    "k5": {"kind": 5, "n": -2.5, "meta": {"level": "high"}},
    "k6": {"kind": " note ", "n": None},
    "k7": {"kind": ["note"], "n": 9007199254740993},
    "k8": {},
}
FILTERABLE = {
    "kind": "tag",
    "n": "numeric",
    "meta.level": "numeric",
    "meta.lang": "tag",
}
FILTERS: list[dict[str, Any]] = [
    {"kind": "note"},
    {"kind": "Note"},
    {"kind": 'x-y|z {w} "q" *'},
    {"kind": ""},
    {"kind": " note "},
    {"kind": {"$ne": "note"}},
    {"kind": 5},
    {"kind": {"$gt": "a"}},
    {"n": 5},
    {"n": 1},
    {"n": {"$ne": 5}},
    {"n": {"$gt": 1}},
    {"n": {"$gte": -2.5, "$lt": 5}},
    {"n": {"$lte": 1}},
    {"n": True},
    {"n": "5"},
    {"n": None},
    {"meta.level": {"$gt": 1}},
    {"meta.level": "high"},
    {"meta.lang": "en", "n": {"$lt": 3}},
    {"kind": "note", "missing": {"$ne": 1}},
    {"meta": {"level": 7}},
]


@pytest.mark.parametrize("flt", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filters_agree_with_the_memory_store(
    make_redis: Callable[..., RedisStore], flt: dict[str, Any]
) -> None:
    memory = InMemoryStore()
    pushed = make_redis(filterable=FILTERABLE)
    plain = make_redis(own_prefix=True)  # nothing declared: all in Python
    for key, value in FILTER_ITEMS.items():
        await put_both([memory, pushed, plain], ("f",), key, value)
    expected = keys(await memory.asearch(("f",), filter=flt, limit=20))
    assert keys(await pushed.asearch(("f",), filter=flt, limit=20)) == expected
    assert keys(await plain.asearch(("f",), filter=flt, limit=20)) == expected


def test_only_exact_conditions_are_pushed_down() -> None:
    settings = parse_settings(None, FILTERABLE)
    flt = parse_filter(
        {
            "kind": "a b",
            "n": {"$gt": 1, "$lte": 9},
            "meta.lang": {"$ne": "en"},
            "other": 1,
            "meta.level": "x",
        }
    )
    clauses, residual = compile_filter(flt, settings)
    assert clauses == [
        f"@f_kind:{{{tag('a b')}}}",
        "@f_n:[(1 +inf]",
        "@f_n:[-inf 9]",
        f"-@f_meta_2Elang:{{{tag('en')}}}",
    ]
    assert [(c.path, c.operand) for c in residual.conditions] == [
        (("other",), 1),
        (("meta", "level"), "x"),
    ]
    assert tag("a b") == "a_20b"
    assert tag("") == "_empty"
    assert tag("_") == "_5F"


async def test_pushed_down_filter_needs_one_round_trip_python_filter_widens(
    make_redis: Callable[..., RedisStore],
) -> None:
    pushed = make_redis(filterable={"kind": "tag"})
    plain = make_redis(own_prefix=True)
    ops = [
        PutOp(
            namespace=("w",),
            key=f"k{i:03}",
            value={"kind": "rare" if i < 3 else "common"},
        )
        for i in range(300)
    ]
    await pushed.abatch(ops)
    await plain.abatch(ops)
    results = {}
    for store in (pushed, plain):
        before = store.round_trips
        results[store] = await store.asearch(
            ("w",), filter={"kind": "rare"}, limit=2, offset=1
        )
        trips = store.round_trips - before
        assert trips == (
            1 if store is pushed else 3
        )  # windows of 64, 256, 1024 candidates
    assert keys(results[pushed]) == keys(results[plain]) == ["k001", "k000"]


# -- offset and limit on every path, against the reference ------------------------

PAGES = [(0, 3), (2, 3), (5, 4), (0, 20), (9, 5), (0, 0)]


@pytest.mark.parametrize("query", [None, "what is my name"])
@pytest.mark.parametrize(
    "flt", [None, {"even": True}, {"kind": "a"}], ids=["none", "python", "pushed"]
)
async def test_paging_agrees_with_the_memory_store(
    make_redis: Callable[..., RedisStore],
    embedder: CountingEmbeddings,
    query: str | None,
    flt: dict[str, Any] | None,
) -> None:
    memory = InMemoryStore(index=text_index(embedder))
    redis_store = make_redis(index=text_index(embedder, filterable={"kind": "tag"}))
    words = ["my", "name", "is", "Bob", "Ann", "what", "pizza", "dog", "cat", "sun"]
    for i in range(12):
        text = " ".join(
            words[j] for j in range(len(words)) if (i >> (j % 4)) & 1 or j == i % 10
        )
        value = {"text": text, "even": i % 2 == 0, "kind": "a" if i % 3 else "b"}
        await put_both(
            [memory, redis_store],
            ("p", str(i % 2)),
            f"k{i:02}",
            value,
            index=False if i % 4 == 3 else None,
        )
    for offset, limit in PAGES:
        expected = await memory.asearch(
            ("p",), query=query, filter=flt, offset=offset, limit=limit
        )
        found = await redis_store.asearch(
            ("p",), query=query, filter=flt, offset=offset, limit=limit
        )
        assert keys(found) == keys(expected), (offset, limit)
        for got, want in zip(found, expected, strict=True):
            assert (got.score is None) == (want.score is None)
            if want.score is not None:
                assert got.score == pytest.approx(want.score, abs=1e-4)


# -- TTL on every key ---------------------------------------------------------------


async def test_ttl_is_set_and_refreshed_on_every_document(
    make_redis: Callable[..., RedisStore],
    redis_prefix: str,
    embedder: CountingEmbeddings,
) -> None:
    store = make_redis(
        index=text_index(embedder, "tags[*]"),
        ttl={"default_ttl": 10, "refresh_on_read": True},
    )
    client = admin()
    await store.aput(("t",), "parts", {"tags": ["a b", "c d", "e f"]})
    await store.aput(("t",), "own", {"tags": ["x"]}, ttl=2)
    ttls = {k: client.pttl(k) for k in docs(redis_prefix)}
    assert len(ttls) == 4
    own = store.item_key(("t",), "own").encode()
    assert all(0 < ms <= (2 if k == own else 10) * 60_000 for k, ms in ttls.items())
    assert all(ms > (1 if k == own else 9) * 60_000 for k, ms in ttls.items())
    for key in ttls:
        client.pexpire(key, 5000)
    await store.aget(("t",), "parts", refresh_ttl=False)
    assert all(client.pttl(k) <= 5000 for k in ttls)
    await store.aget(("t",), "parts")
    part_keys = [k for k in ttls if k != own]
    assert all(client.pttl(k) > 9 * 60_000 for k in part_keys)
    await store.asearch(("t",), query="x")  # a search refreshes what it returns
    assert client.pttl(own) > 60_000


async def test_no_ttl_means_no_expiry_and_an_update_can_drop_it(
    make_redis: Callable[..., RedisStore],
    redis_prefix: str,
    embedder: CountingEmbeddings,
) -> None:
    store = make_redis(index=text_index(embedder, "tags[*]"))
    await store.aput(("t",), "k", {"tags": ["a", "b"]}, ttl=5)
    assert all(admin().pttl(k) > 0 for k in docs(redis_prefix))
    await store.aput(("t",), "k", {"tags": ["a", "b"]})
    assert [admin().pttl(k) for k in docs(redis_prefix)] == [-1, -1]


async def test_refresh_on_read_off_leaves_ttls(
    make_redis: Callable[..., RedisStore], redis_prefix: str
) -> None:
    store = make_redis(ttl={"default_ttl": 10, "refresh_on_read": False})
    await store.aput(("t",), "k", {"v": 1})
    (key,) = docs(redis_prefix)
    admin().pexpire(key, 5000)
    await store.aget(("t",), "k")
    await store.asearch(("t",))
    assert admin().pttl(key) <= 5000


# -- batches: order, created_at, round trips ----------------------------------------


async def test_batch_sees_its_own_writes_and_keeps_created_at(
    make_redis: Callable[..., RedisStore],
) -> None:
    store = make_redis()
    first, second, got, found = await store.abatch(
        [
            PutOp(namespace=("b",), key="k", value={"v": 1}),
            PutOp(namespace=("b",), key="k", value={"v": 2}),
            GetOp(namespace=("b",), key="k"),
            SearchOp(namespace_prefix=("b",), filter={"v": 2}),
        ]
    )
    assert (first, second) == (None, None)
    assert got is not None
    assert getattr(got, "value", None) == {"v": 2}
    assert getattr(got, "created_at", None) < getattr(got, "updated_at", None)
    assert keys(found) == ["k"]  # type: ignore[arg-type]


async def test_a_batch_of_twenty_mixed_ops_is_one_round_trip(
    make_redis: Callable[..., RedisStore], embedder: CountingEmbeddings
) -> None:
    store = make_redis(
        index=text_index(embedder, filterable={"kind": "tag", "n": "numeric"})
    )
    await store.aput(("warm",), "k", {"text": "warm up"})  # index made, scripts loaded
    ops: list[Any] = []
    for i in range(4):
        ns = ("r", str(i))
        ops += [
            PutOp(
                namespace=ns,
                key="a",
                value={"text": f"my name is Bob {i}", "kind": "x", "n": i},
            ),
            PutOp(
                namespace=ns,
                key="b",
                value={"text": "pizza", "kind": "y", "n": i},
                index=False,
            ),
            GetOp(namespace=ns, key="a"),
            SearchOp(  # each user's own, as the store actor batches them
                namespace_prefix=ns,
                query="what is my name",
                filter={"kind": "x", "n": {"$gte": 1}},
            ),
        ]
    ops += [
        SearchOp(namespace_prefix=("r",), filter={"kind": "y"}, limit=2),
        PutOp(namespace=("r", "9"), key="b", value=None),
        ListNamespacesOp(prefix=("r",)),
        SearchOp(namespace_prefix=("r", "3")),
    ]
    before, calls = store.round_trips, len(embedder.calls)
    results = await store.abatch(ops)
    # One pipeline for all 20 ops, plus one for the searches whose scored
    # hits did not fill the page (they then read the items without vectors).
    # No write waits for a search: none writes under an earlier query's prefix.
    assert (store.round_trips - before, len(embedder.calls) - calls) == (2, 1)
    assert len(ops) == 20
    assert [keys(results[i]) for i in (3, 7, 11, 15)] == [[], ["a"], ["a"], ["a"]]  # type: ignore[arg-type]
    assert keys(results[16]) == ["b", "b"]  # type: ignore[arg-type]
    assert results[18] == [("r", "0"), ("r", "1"), ("r", "2"), ("r", "3")]
    assert keys(results[19]) == ["b", "a"]  # type: ignore[arg-type]


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"algorithm": "hnsw"},
        {"distance_type": "l2"},
        {"distance_type": "ip", "hnsw": {"m": 8, "ef_runtime": 20}},
    ],
)
async def test_algorithm_and_metric_are_configurable(
    make_redis: Callable[..., RedisStore],
    redis_prefix: str,
    embedder: CountingEmbeddings,
    extra: dict[str, Any],
) -> None:
    store = make_redis(index=text_index(embedder, **extra))
    for key, text in [
        ("bob", "my name is Bob"),
        ("pizza", "I like pizza"),
        ("mode", "dark mode"),
    ]:
        await store.aput(("c",), key, {"text": text})
    results = await store.asearch(("c",), query="my name is Bob")
    assert keys(results)[0] == "bob"
    assert results[0].score == pytest.approx(1.0, abs=1e-3)
    reference = InMemoryStore(index=text_index(embedder))
    for key, text in [
        ("bob", "my name is Bob"),
        ("pizza", "I like pizza"),
        ("mode", "dark mode"),
    ]:
        await reference.aput(("c",), key, {"text": text})
    expected = await reference.asearch(("c",), query="what is my name")
    found = await store.asearch(("c",), query="what is my name")
    assert [(r.key, pytest.approx(r.score, abs=1e-4)) for r in expected] == [
        (r.key, r.score) for r in found
    ]
    info = admin().execute_command("FT.INFO", f"{redis_prefix}:idx")
    flat = repr(info)
    hnsw = extra.get("algorithm") == "hnsw" or "hnsw" in extra
    assert ("HNSW" if hnsw else "FLAT") in flat
    assert ("L2" if extra.get("distance_type") == "l2" else "IP") in flat


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {
                "index": {
                    "dims": 8,
                    "embed": HashingEmbeddings(8),
                    "distance_type": "dot",
                }
            },
            "distance_type",
        ),
        (
            {"index": {"dims": 8, "embed": HashingEmbeddings(8), "algorithm": "ivf"}},
            "algorithm",
        ),
        (
            {"index": {"dims": 8, "embed": HashingEmbeddings(8), "hnsw": {"m": 0}}},
            "hnsw",
        ),
        (
            {
                "index": {
                    "dims": 8,
                    "embed": HashingEmbeddings(8),
                    "algorithm": "flat",
                    "hnsw": {"m": 8},
                }
            },
            "need algorithm 'hnsw'",
        ),
        ({"filterable": {"kind": "text"}}, "kinds are 'tag' or 'numeric'"),
        ({"filterable": {"a..b": "tag"}}, "field paths"),
        ({"filterable": ["kind"]}, "must be a dict"),
        (
            {"index": {"filterable": {"a": "tag"}}, "filterable": {"b": "tag"}},
            "not both",
        ),
    ],
)
def test_bad_redis_settings_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidIndexConfigError, match=match):
        RedisStore("redis://127.0.0.1:1/0", **kwargs)


async def test_a_second_store_on_the_prefix_sees_the_data(
    make_redis: Callable[..., RedisStore], embedder: CountingEmbeddings
) -> None:
    await make_redis(index=text_index(embedder)).aput(
        ("s",), "k", {"text": "my name is Bob"}
    )
    other = make_redis(index=text_index(embedder))  # like another process
    assert keys(await other.asearch(("s",), query="name")) == ["k"]


# -- event loops, failures, restarts --------------------------------------------------


async def test_sync_twins_from_plain_threads_use_their_own_loops(
    make_redis: Callable[..., RedisStore],
) -> None:
    store = make_redis()
    seen: list[Any] = []

    def plain_thread() -> None:  # no event loop here: each call runs its own
        store.put(("sync",), "k", {"v": 1})
        seen.append(store.get(("sync",), "k"))
        seen.append(store.search(("sync",)))

    worker = threading.Thread(target=plain_thread)
    worker.start()
    await anyio.to_thread.run_sync(worker.join)
    assert getattr(seen[0], "value", None) == {"v": 1}
    assert keys(seen[1]) == ["k"]
    assert (
        await store.aget(("sync",), "k")
    ) is not None  # this loop has its own client


def test_each_event_loop_gets_a_client_that_closes_with_it(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    clients: list[Any] = []

    async def use(i: int) -> None:
        await store.aput(("loops",), f"k{i}", {"v": i})
        clients.append(await store._conn.client())

    for i, backend in enumerate(["trio", "asyncio", "trio", "asyncio"]):
        anyio.run(use, i, backend=backend)  # a loop of its own each time
    assert len({id(c) for c in clients}) == 4
    assert store._conn._clients == {}  # each was dropped when its loop shut down
    assert all(c._closed and not c._idle for c in clients)  # and its sockets closed
    assert len(admin().keys(f"{redis_prefix}:d:*")) == 4


async def test_redis_down_fails_fast_with_store_unavailable() -> None:
    async with RedisStore(f"redis://127.0.0.1:{free_port()}/0") as store:
        with (
            anyio.fail_after(10),
            pytest.raises(StoreUnavailableError, match="unreachable"),
        ):
            await store.aget(("a",), "k")


async def test_next_call_works_after_redis_restarts_with_aof(
    tmp_path: Path, embedder: CountingEmbeddings
) -> None:
    port = free_port()
    with EmbeddedRedis(data_dir=tmp_path, port=port) as server:
        store = RedisStore(server.url, index=text_index(embedder))
        await store.aput(("r",), "bob", {"text": "my name is Bob"})
        await store.aput(("r",), "pizza", {"text": "I like pizza"})
    with anyio.fail_after(10), pytest.raises(StoreUnavailableError):
        await store.asearch(("r",), query="name")
    with EmbeddedRedis(data_dir=tmp_path, port=port):
        with anyio.fail_after(10):
            found = await store.asearch(("r",), query="what is my name")
        assert keys(found) == ["bob", "pizza"]
        await store.aput(("r",), "new", {"text": "new item"})
        assert (await store.aget(("r",), "new")) is not None
        await store.aclose()


async def test_cancelled_batches_leave_the_store_usable(
    make_redis: Callable[..., RedisStore], embedder: CountingEmbeddings
) -> None:
    store = make_redis(index=text_index(embedder))
    await store.aput(("c",), "warm", {"text": "warm"})
    for i in range(40):
        with anyio.move_on_after(0.0001 * (i % 8)):
            await store.abatch(
                [
                    PutOp(
                        namespace=("c",),
                        key=f"k{i}",
                        value={"text": f"item {i}", "i": i},
                    ),
                    SearchOp(namespace_prefix=("c",), query="item", limit=50),
                ]
            )
        got = await store.aget(("c",), f"k{i}")
        assert got is None or got.value == {"text": f"item {i}", "i": i}
    found = await store.asearch(("c",), limit=100)
    assert all(r.value.get("i", -1) < 40 for r in found)
    assert len({r.key for r in found}) == len(found)


async def test_a_lost_index_is_made_again(
    make_redis: Callable[..., RedisStore], redis_prefix: str
) -> None:
    store = make_redis(filterable={"kind": "tag"})
    await store.aput(("i",), "old", {"kind": "a"})
    admin().execute_command(
        "FT.DROPINDEX", f"{redis_prefix}:idx"
    )  # keeps the documents
    put, found = await store.abatch(
        [
            PutOp(namespace=("i",), key="new", value={"kind": "a"}),
            SearchOp(namespace_prefix=("i",), filter={"kind": "a"}, limit=5),
        ]
    )
    assert put is None
    assert "new" in keys(found)  # type: ignore[arg-type]
    assert f"{redis_prefix}:idx".encode() in admin().execute_command("FT._LIST")


async def test_a_full_page_of_scored_hits_needs_one_search_command(
    make_redis: Callable[..., RedisStore], embedder: CountingEmbeddings
) -> None:
    store = make_redis(index=text_index(embedder))
    await store.abatch(
        [
            PutOp(namespace=("m",), key=str(i), value={"text": f"fact {i}"})
            for i in range(5)
        ]
    )
    before = store.round_trips
    hits = await store.asearch(("m",), query="fact 3", limit=5)
    assert store.round_trips - before == 1
    assert len(hits) == 5 and hits[0].key == "3"
