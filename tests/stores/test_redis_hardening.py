"""RedisStore against InMemoryStore on the defects a differential fuzz found (issue 13).

Each test runs the same calls on both stores (or states the one deliberate
difference) and fails on the code before the fix: long labels and tag
values that collided at RediSearch's 4,096-character cut, searches over
items whose TTL runs out, query searches racing writers, reopening a
prefix with other settings, overlapping prefixes, numbers past the double
range, MAXSEARCHRESULTS, and the minor ones.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import numpy as np
import pytest

from stores._base import ListNamespacesOp, PutOp, SearchOp
from stores._errors import InvalidIndexConfigError, SearchLimitError
from stores._memory_store import InMemoryStore
from stores.embeddings._hashing import HashingEmbeddings
from stores.redis._store import RedisStore
from tests.redis_server import admin, drop_prefix, new_prefix

from ._differential import one_hot_index, view

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from stores._base import BaseStore

pytestmark = pytest.mark.redis

Pair = tuple[InMemoryStore, RedisStore]


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    """``make(index=None, ttl=None, **redis_only)``: an InMemoryStore and a RedisStore
    (on a fresh prefix) with the same settings."""
    opened: list[tuple[RedisStore, str]] = []

    async def make(index: Any = None, ttl: Any = None, **redis_only: Any) -> Pair:
        prefix = redis_only.pop("prefix", None) or new_prefix()
        memory_index = (
            {k: v for k, v in index.items() if k in ("dims", "embed", "fields")}
            if index
            else None
        )
        redis_store = RedisStore(
            redis_url, index=index, ttl=ttl, prefix=prefix, **redis_only
        )
        opened.append((redis_store, prefix))
        await redis_store.__aenter__()
        return InMemoryStore(index=memory_index, ttl=ttl), redis_store

    yield make
    for store, prefix in opened:
        await store.aclose()
        drop_prefix(prefix)


async def agree(stores: Pair, ops: list[Any]) -> list[Any]:
    """Run ``ops`` on both stores (one batch each); assert the results agree; return them."""
    memory, redis_store = stores
    expected = [view(r) for r in await memory.abatch(ops)]
    found = [view(r) for r in await redis_store.abatch(ops)]
    assert found == expected
    return expected


# -- 1: long labels and tag values ---------------------------------------------------

LONG_LABELS = [
    "A" * 4088
    + "-victim",  # the first 4,096 encoded characters are "users." + A * 4088
    "AA" + "中" * 454 + "-victim",  # "中" encodes as 9 characters: about 455 of them
    "é" * 2000,
    "x" * 200,
]


@pytest.mark.parametrize("label", LONG_LABELS, ids=["ascii", "cjk", "accents", "200"])
async def test_long_labels_never_match_another_namespace(
    pair: Callable[..., Awaitable[Pair]], label: str
) -> None:
    stores = await pair()
    cut = label.removesuffix("-victim")
    cut = cut if cut != label else label[:-1]
    await agree(
        stores,
        [
            PutOp(namespace=("users", label), key="secret", value={"pw": "x"}),
            PutOp(namespace=("users", cut), key="own", value={"pw": "y"}),
            PutOp(namespace=("users", cut, "deeper"), key="deep", value={"pw": "z"}),
        ],
    )
    found = await agree(
        stores,
        [
            SearchOp(namespace_prefix=("users", cut), limit=10),
            SearchOp(namespace_prefix=("users", label), limit=10),
            SearchOp(namespace_prefix=("users", cut[:-1]), limit=10),
            ListNamespacesOp(prefix=("users", cut)),
            ListNamespacesOp(prefix=("users", label)),
        ],
    )
    assert [r[1] for r in found[0]] == ["deep", "own"]
    assert [r[1] for r in found[1]] == ["secret"]
    assert found[2] == []


async def test_long_tag_filter_values_match_exactly(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(filterable={"kind": "tag"})
    long = "B" * 4096
    await agree(
        stores,
        [
            PutOp(namespace=("f",), key="long", value={"kind": long + "x"}),
            PutOp(namespace=("f",), key="cut", value={"kind": long}),
            PutOp(namespace=("f",), key="cjk", value={"kind": "中" * 500}),
        ],
    )
    found = await agree(
        stores,
        [
            SearchOp(namespace_prefix=("f",), filter={"kind": long + "x"}),
            SearchOp(namespace_prefix=("f",), filter={"kind": long}),
            SearchOp(namespace_prefix=("f",), filter={"kind": {"$ne": long}}),
            SearchOp(namespace_prefix=("f",), filter={"kind": "中" * 500}),
            SearchOp(namespace_prefix=("f",), filter={"kind": "中" * 499}),
        ],
    )
    assert [[r[1] for r in page] for page in found] == [
        ["long"],
        ["cut"],
        ["cjk", "long"],
        ["cjk"],
        [],
    ]


# -- 2: items whose TTL runs out under a search ------------------------------------


async def test_searching_items_as_their_ttl_runs_out_never_fails(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    memory, redis_store = await pair()
    ttl_ms = 3
    for _ in range(30):
        ops = [
            PutOp(
                namespace=("t", str(i % 3)),
                key=f"k{i}",
                value={"i": i},
                ttl=ttl_ms / 60_000,
            )
            for i in range(50)
        ]
        ops.append(PutOp(namespace=("t", "kept"), key="kept", value={"i": -1}))
        await redis_store.abatch(ops)
        await memory.abatch(ops)
        with anyio.fail_after(10):
            while True:  # until every short-lived item is gone, as the TTL runs out
                # (a search refreshes the TTLs it returns: these must run out)
                found = await redis_store.asearch(("t",), limit=100, refresh_ttl=False)
                listed = await redis_store.alist_namespaces(prefix=("t",))
                assert len({r.key for r in found}) == len(found)
                assert "kept" in {r.key for r in found}
                assert ("t", "kept") in listed
                if len(found) == 1:
                    break
    await anyio.sleep(ttl_ms / 1000)  # the memory store's copies expire by the clock
    await agree(
        (memory, redis_store),
        [SearchOp(namespace_prefix=("t",), limit=100), ListNamespacesOp(prefix=("t",))],
    )


# -- 3: query searches racing writers -------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_query_search_lists_each_item_once_while_writers_reput_them(
    pair: Callable[..., Awaitable[Pair]], kind: str
) -> None:
    memory, redis_store = await pair(index=one_hot_index())
    store: BaseStore = memory if kind == "memory" else redis_store
    names = [f"k{i}" for i in range(8)]
    await store.abatch(
        [PutOp(namespace=("w",), key=k, value={"text": "apple"}) for k in names]
    )
    bad: list[tuple[str, list[str]]] = []

    async def writer(key: str) -> None:
        i = 0
        while True:  # alternately with a vector and without one (index=False)
            i += 1
            await store.aput(
                ("w",), key, {"text": "apple", "i": i}, index=False if i % 2 else None
            )
            await anyio.lowlevel.checkpoint()  # the memory store never yields by itself

    async with anyio.create_task_group() as tg:
        for key in names:
            tg.start_soon(writer, key)
        for _ in range(150):
            found = [
                r.key for r in await store.asearch(("w",), query="apple", limit=20)
            ]
            if sorted(found) != names:
                bad.append(("page", found))
        tg.cancel_scope.cancel()
    assert bad == []


async def test_a_search_never_sees_the_later_writes_of_its_batch(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(index=one_hot_index(), filterable={"kind": "tag"})
    ns = ("b", "1")
    await agree(stores, [PutOp(namespace=ns, key="k1", value={})])
    await agree(
        stores,
        [
            PutOp(namespace=ns, key="k1", value={"text": "apple"}),
            # the scored item does not fill the page: the search reads again
            SearchOp(namespace_prefix=("b",), query="apple", limit=2),
            SearchOp(namespace_prefix=("b",), filter={"other": 1}, limit=2),
            PutOp(namespace=ns, key="k1", value={"other": 1}, index=False),
            PutOp(namespace=ns, key="k2", value={"text": "apple", "other": 1}),
            SearchOp(namespace_prefix=("b",), query="apple", limit=3),
        ],
    )
    _, redis_store = stores
    before = redis_store.round_trips
    await redis_store.abatch(  # writes elsewhere are not held back: one round trip
        [
            SearchOp(namespace_prefix=("b",), limit=5),
            PutOp(namespace=("c",), key="k", value={"v": 1}),
        ]
    )
    assert redis_store.round_trips - before == 1


# -- 4: reopening a prefix with other settings ------------------------------------------

REOPENED: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({}, {"filterable": {"kind": "tag"}}, "no filterable fields"),
    (
        {"filterable": {"kind": "tag"}},
        {"filterable": {"kind": "numeric"}},
        "'kind' \\(tag\\)",
    ),
    (
        {"filterable": {"a": "tag", "b": "tag"}},
        {"filterable": {"b": "tag", "a": "tag"}},
        "'a' \\(tag\\), 'b'",
    ),
    ({}, {"index": one_hot_index()}, "made with no vectors"),
    ({"index": one_hot_index()}, {}, "but this store has no vectors"),
    (
        {"index": one_hot_index()},
        {"index": {**one_hot_index(), "dims": 16, "embed": HashingEmbeddings(16)}},
        "dims 8",
    ),
    (
        {"index": one_hot_index()},
        {"index": one_hot_index(distance_type="l2")},
        "cosine or ip",
    ),
    (
        {"index": one_hot_index(algorithm="hnsw")},
        {"index": one_hot_index(algorithm="hnsw", hnsw={"m": 8})},
        "m 16",
    ),
    (
        {"index": one_hot_index(algorithm="hnsw")},
        {"index": one_hot_index(algorithm="flat")},
        "hnsw, cosine or ip, m 16",
    ),
]


async def test_an_index_made_under_the_old_hnsw_default_opens_as_it_is(
    redis_url: str, redis_prefix: str
) -> None:
    # stores made before flat became the default have HNSW indexes: opening
    # one without naming an algorithm keeps it, and its items
    async with RedisStore(
        redis_url, prefix=redis_prefix, index=one_hot_index(algorithm="hnsw")
    ) as store:
        await store.aput(("r",), "k", {"text": "apple"})
    unnamed = {k: v for k, v in one_hot_index().items() if k != "algorithm"}
    async with RedisStore(redis_url, prefix=redis_prefix, index=unnamed) as store:
        await store.aput(("r",), "j", {"text": "pear"})
        found = await store.asearch(("r",), query="apple")
        assert [r.key for r in found][:1] == ["k"]
    info = repr(admin().execute_command("FT.INFO", f"{redis_prefix}:idx"))
    assert "HNSW" in info and "FLAT" not in info


async def test_an_old_layout_hnsw_index_is_remade_as_hnsw(
    redis_url: str, redis_prefix: str
) -> None:
    # the earlier key layout under the earlier default: remade in place, and
    # a store that names no algorithm keeps it HNSW
    admin().execute_command(
        "FT.CREATE", f"{redis_prefix}:idx", "ON", "HASH", "PREFIX", 1, f"{redis_prefix}:d:",
        "SCHEMA", "p", "TAG", "SEPARATOR", ",", "CASESENSITIVE",
        "m", "TAG", "SEPARATOR", ",", "CASESENSITIVE", "ua", "NUMERIC", "SORTABLE",
        "vec", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32", "DIM", 8, "DISTANCE_METRIC", "IP",
        "M", 16, "EF_CONSTRUCTION", 200,
    )  # fmt: skip
    unnamed = {k: v for k, v in one_hot_index().items() if k != "algorithm"}
    async with RedisStore(redis_url, prefix=redis_prefix, index=unnamed) as store:
        await store.aput(("r",), "k", {"text": "apple"})
        assert [r.key for r in await store.asearch(("r",), query="apple")] == ["k"]
    info = repr(admin().execute_command("FT.INFO", f"{redis_prefix}:idx"))
    assert f"{redis_prefix}:d:{{" in info
    assert "HNSW" in info and "FLAT" not in info


@pytest.mark.parametrize(("first", "then", "names"), REOPENED)
async def test_reopening_a_prefix_with_other_settings_is_refused(
    redis_url: str,
    redis_prefix: str,
    first: dict[str, Any],
    then: dict[str, Any],
    names: str,
) -> None:
    async with RedisStore(redis_url, prefix=redis_prefix, **first) as store:
        await store.aput(("r",), "k", {"text": "apple", "kind": "x"})
    with pytest.raises(InvalidIndexConfigError, match=names) as caught:
        async with RedisStore(redis_url, prefix=redis_prefix, **then):
            pass
    assert "FT.DROPINDEX" in str(caught.value) and "prefix=" in str(caught.value)
    unopened = RedisStore(redis_url, prefix=redis_prefix, **then)  # no async with
    with pytest.raises(InvalidIndexConfigError, match=names):
        await unopened.aget(("r",), "k")
    await unopened.aclose()
    async with RedisStore(redis_url, prefix=redis_prefix, **first) as same:
        assert (await same.aget(("r",), "k")) is not None


async def test_an_index_of_the_earlier_layout_is_made_again_in_place(
    pair: Callable[..., Awaitable[Pair]], redis_url: str
) -> None:
    prefix = new_prefix()
    memory, redis_store = await pair(
        index=one_hot_index(), filterable={"kind": "tag", "n": "numeric"}, prefix=prefix
    )
    puts = [
        PutOp(
            namespace=("o", str(i % 2)),
            key=f"k{i}",
            value={"text": "apple" if i % 3 else "bean", "kind": "ab"[i % 2], "n": i},
        )
        for i in range(12)
    ]
    await agree((memory, redis_store), puts)
    client = admin()  # the index as the earlier version made it: keys P:d:, no aliases
    client.execute_command("FT.DROPINDEX", f"{prefix}:idx")
    client.execute_command(
        "FT.CREATE", f"{prefix}:idx", "ON", "HASH", "PREFIX", 1, f"{prefix}:d:",
        "SCHEMA", "p", "TAG", "SEPARATOR", ",", "CASESENSITIVE",
        "m", "TAG", "SEPARATOR", ",", "CASESENSITIVE", "ua", "NUMERIC", "SORTABLE",
        "f0", "TAG", "SEPARATOR", ",", "CASESENSITIVE", "f1", "NUMERIC",
        "vec", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", 8, "DISTANCE_METRIC", "IP",
    )  # fmt: skip
    async with RedisStore(
        redis_url,
        index=one_hot_index(),
        filterable={"kind": "tag", "n": "numeric"},
        prefix=prefix,
    ) as reopened:
        with anyio.fail_after(10):
            while len(await reopened.asearch(("o",), limit=20)) < 12:
                await (
                    anyio.lowlevel.checkpoint()
                )  # the remade index scans the documents
        await agree(
            (memory, reopened),
            [
                SearchOp(
                    namespace_prefix=("o",), filter={"kind": "a", "n": {"$gte": 4}}
                ),
                SearchOp(namespace_prefix=("o", "1"), query="bean", limit=3),
            ],
        )
    info = client.execute_command("FT.INFO", f"{prefix}:idx")
    assert f"{prefix}:d:{{".encode() in repr(info).encode()


# -- 5: overlapping prefixes ----------------------------------------------------------


async def test_stores_with_overlapping_prefixes_see_only_their_own_items(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    base = new_prefix()
    outer = await pair(prefix=base)
    inner = await pair(prefix=f"{base}:d:x")
    for stores, tag in ((outer, "outer"), (inner, "inner")):
        await agree(stores, [PutOp(namespace=("n", tag), key="k", value={"who": tag})])
    for stores in (outer, inner):
        await agree(
            stores,
            [
                SearchOp(namespace_prefix=(), limit=10),
                ListNamespacesOp(),
                SearchOp(namespace_prefix=("n",), filter={"who": "inner"}),
            ],
        )


# -- 6: numbers past the double range ---------------------------------------------------


async def test_numbers_past_the_double_range_stay_searchable(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(filterable={"n": "numeric"})
    values = {
        "huge": 10**309,
        "tiny": -(10**309),
        "long": 10**300,
        "one": 1,
        "half": 0.5,
    }
    await agree(
        stores,
        [PutOp(namespace=("x", k), key=k, value={"n": v}) for k, v in values.items()],
    )
    await agree(
        stores,
        [
            SearchOp(namespace_prefix=("x",), limit=10),
            ListNamespacesOp(prefix=("x",)),
            SearchOp(namespace_prefix=("x",), filter={"n": {"$gt": 1}}),
            SearchOp(namespace_prefix=("x",), filter={"n": {"$lt": 0}}),
            SearchOp(namespace_prefix=("x",), filter={"n": 10**309}),
            SearchOp(namespace_prefix=("x",), filter={"n": {"$ne": 10**309}}),
            SearchOp(namespace_prefix=("x",), filter={"n": {"$gte": 10**310}}),
            SearchOp(namespace_prefix=("x",), filter={"n": 10**300}),
        ],
    )


async def test_numeric_filters_compare_as_doubles_on_redis(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    memory, redis_store = await pair(filterable={"n": "numeric"})
    for store in (memory, redis_store):
        await store.aput(("d",), "big", {"n": 2**53 + 1})
    flt = {"n": 2**53}
    assert [r.key for r in await memory.asearch(("d",), filter=flt)] == []
    # the documented difference: RediSearch holds 2**53 + 1 as the double 2**53
    assert [r.key for r in await redis_store.asearch(("d",), filter=flt)] == ["big"]


# -- 7: large limit and offset, and MAXSEARCHRESULTS ----------------------------------


async def test_large_limit_and_offset_work(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(index=one_hot_index())
    await agree(
        stores,
        [
            PutOp(namespace=("l",), key=f"k{i}", value={"text": "apple"})
            for i in range(5)
        ],
    )
    await agree(
        stores,
        [
            SearchOp(namespace_prefix=("l",), limit=1_000_001),
            SearchOp(namespace_prefix=("l",), offset=999_995),
            SearchOp(namespace_prefix=("l",), query="apple", offset=999_995),
            SearchOp(namespace_prefix=("l",), query="apple", limit=2_000_000),
            SearchOp(
                namespace_prefix=("l",), filter={"text": "apple"}, limit=1_000_001
            ),
        ],
    )


@pytest.fixture
def max_results() -> Iterator[int]:
    """MAXSEARCHRESULTS lowered to 16 on the session's Redis for one test."""
    client = admin()
    client.execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", 16)
    try:
        yield 16
    finally:
        client.execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", 1_000_000)


async def test_a_search_past_max_search_results_is_a_clear_error(
    pair: Callable[..., Awaitable[Pair]], max_results: int
) -> None:
    stores = await pair(index=one_hot_index(), filterable={"kind": "tag"})
    n = 3 * max_results
    await agree(
        stores,
        [
            PutOp(
                namespace=("m",),
                key=f"k{i:02}",
                value={
                    "text": "bean" if i % 4 else "apple",  # 12 apples tie at score 1
                    "kind": "ab"[i < 3],
                    "rare": i < 3,
                },
            )
            for i in range(n)
        ],
    )
    # within reach: the same answers as the memory store
    await agree(
        stores,
        [
            SearchOp(namespace_prefix=("m",), limit=10, offset=6),
            SearchOp(namespace_prefix=("m",), filter={"kind": "b"}, limit=50),
            SearchOp(namespace_prefix=("m",), query="apple", limit=5),
            SearchOp(namespace_prefix=("m",), query="apple", limit=5, offset=5),
        ],
    )
    _, redis_store = stores
    past = [
        SearchOp(namespace_prefix=("m",), limit=20),
        SearchOp(namespace_prefix=("m",), offset=15, limit=5),
        SearchOp(namespace_prefix=("m",), filter={"rare": True}),  # not filterable
        SearchOp(namespace_prefix=("m",), query="apple", limit=max_results + 1),
    ]
    for op in past:
        with pytest.raises(SearchLimitError, match=r"MAXSEARCHRESULTS.*filterable"):
            await redis_store.abatch([op])


# -- minor ones -------------------------------------------------------------------------


async def test_a_query_without_words_ranks_newest_first(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(index=one_hot_index())
    await agree(
        stores,
        [
            PutOp(
                namespace=("q",),
                key=f"k{i}",
                value={"text": "apple" if i % 3 else "zzz"},
                index=False if i == 4 else None,
            )
            for i in range(9)
        ],
    )
    found = await agree(
        stores,
        [
            SearchOp(namespace_prefix=("q",), query="!!!", limit=4),
            SearchOp(namespace_prefix=("q",), query="", limit=20),
        ],
    )
    assert [r[1] for r in found[0]] == ["k8", "k7", "k6", "k5"]
    assert [r[3] for r in found[1]] == [0.0] * 8 + [None]


class Scattered:
    """Vectors of any length and direction, a fixed one per text (float32 rounding shows)."""

    dims = 5

    def _one(self, text: str) -> list[float]:
        seed = int(hashlib.blake2b(text.encode(), digest_size=4).hexdigest(), 16)
        rng = np.random.default_rng(seed)
        scale = 10.0 ** int(rng.integers(-3, 3))
        return [float(x) * scale for x in rng.standard_normal(self.dims)]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self._one(text)


async def test_an_exact_match_scores_at_most_one(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair(index={"dims": 5, "embed": Scattered(), "fields": ["text"]})
    texts = [f"t{i}" for i in range(40)]
    for store in stores:
        await store.abatch(
            [PutOp(namespace=("s",), key=t, value={"text": t}) for t in texts]
        )
        for text in texts:
            (hit,) = await store.asearch(("s",), query=text, limit=1)
            assert hit.key == text
            assert hit.score is not None and hit.score <= 1.0
            assert hit.score == pytest.approx(1.0, abs=1e-6)


async def test_a_tiny_ttl_expires_on_redis_too(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    _, redis_store = await pair()
    await redis_store.aput(
        ("t",), "k", {"v": 1}, ttl=1e-7
    )  # 6 microseconds: 1 ms on Redis
    with anyio.fail_after(5):
        while await redis_store.aget(("t",), "k", refresh_ttl=False) is not None:
            await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("ttl", [1e15, 1e9 * 1.0001, math.inf])
async def test_a_ttl_too_long_is_the_same_value_error_on_both(
    pair: Callable[..., Awaitable[Pair]], ttl: float
) -> None:
    for store in await pair():
        with pytest.raises(ValueError, match=r"at most|up to"):
            await store.aput(("t",), "k", {"v": 1}, ttl=ttl)
    for store in await pair():  # the longest one is accepted
        await store.aput(("t",), "k", {"v": 1}, ttl=1e9)
        assert await store.aget(("t",), "k") is not None


async def test_ops_built_with_list_namespaces_behave_alike(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    stores = await pair()
    await agree(
        stores,
        [
            PutOp(namespace=["a", "b"], key="k", value={"v": 1}),  # type: ignore[arg-type]
            PutOp(namespace=("a", "c"), key="k", value={"v": 2}),
        ],
    )
    await agree(
        stores,
        [
            SearchOp(namespace_prefix=["a"]),  # type: ignore[arg-type]
            SearchOp(namespace_prefix=["a", "b"]),  # type: ignore[arg-type]
            ListNamespacesOp(prefix=["a"], suffix=["b"]),  # type: ignore[arg-type]
            PutOp(namespace=["a", "b"], key="k", value=None),  # type: ignore[arg-type]
            SearchOp(namespace_prefix=["a"]),  # type: ignore[arg-type]
        ],
    )
