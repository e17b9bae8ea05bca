"""The store contract, run on every store kind in ``conftest.STORE_FACTORIES``.

Only public behaviour is tested here; anything that needs a store's
internals (an injected clock, sweeping) lives in that store's own tests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest

from stores._base import GetOp, ListNamespacesOp, PutOp, SearchOp
from stores._errors import (
    InvalidFilterError,
    InvalidIndexConfigError,
    InvalidNamespaceError,
    InvalidValueError,
)
from stores.embeddings._hashing import HashingEmbeddings

if TYPE_CHECKING:
    from stores._base import BaseStore, SearchItem

    from .conftest import CountingEmbeddings, MakeStore

# Puts that must get distinct ``updated_at`` let the wall clock move between
# them: this waits for time itself, not for any state.
TICK = 0.003


async def put_in_order(
    store: BaseStore, namespace: tuple[str, ...], keys: list[str]
) -> None:
    for i, key in enumerate(keys):
        await store.aput(namespace, key, {"i": i, "text": f"item {key}"})
        await anyio.sleep(TICK)


def keys(results: list[SearchItem]) -> list[str]:
    return [r.key for r in results]


def index_of(embedder: Any, *fields: str) -> dict[str, Any]:
    config: dict[str, Any] = {"dims": 128, "embed": embedder}
    if fields:
        config["fields"] = list(fields)
    return config


# -- basic CRUD ----------------------------------------------------------------


async def test_put_then_get_returns_the_item(make_store: MakeStore) -> None:
    store = await make_store()
    value = {
        "theme": "dark",
        "n": 1,
        "x": 1.5,
        "ok": True,
        "none": None,
        "nested": {"a": [1, "b"]},
    }
    await store.aput(("users", "alice"), "prefs", value)
    item = await store.aget(("users", "alice"), "prefs")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (
        ("users", "alice"),
        "prefs",
        value,
    )
    assert item.created_at.utcoffset() == timedelta(0)
    assert item.updated_at == item.created_at
    assert await store.aget(("users", "alice"), "other") is None
    assert await store.aget(("users",), "prefs") is None


async def test_update_replaces_value_and_keeps_created_at(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    await store.aput(("a",), "k", {"v": 1, "old": True})
    first = await store.aget(("a",), "k")
    await anyio.sleep(TICK)
    await store.aput(("a",), "k", {"v": 2})
    second = await store.aget(("a",), "k")
    assert first is not None
    assert second is not None
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


async def test_delete_removes_item_and_is_idempotent(make_store: MakeStore) -> None:
    store = await make_store()
    await store.aput(("a", "b"), "k", {"v": 1})
    await store.aput(("a", "b"), "keep", {"v": 2})
    await store.adelete(("a", "b"), "k")
    await store.adelete(("a", "b"), "k")
    await store.adelete(("never",), "k")
    assert await store.aget(("a", "b"), "k") is None
    assert keys(await store.asearch(("a",))) == ["keep"]


async def test_values_are_copies(make_store: MakeStore) -> None:
    store = await make_store()
    value: dict[str, Any] = {"list": [1, 2], "inner": {"x": 1}}
    await store.aput(("a",), "k", value)
    value["list"].append(3)
    value["inner"]["x"] = 99
    got = await store.aget(("a",), "k")
    assert got is not None
    assert got.value == {"list": [1, 2], "inner": {"x": 1}}
    got.value["list"].append(4)
    (found,) = await store.asearch(("a",))
    found.value["inner"]["x"] = 42
    again = await store.aget(("a",), "k")
    assert again is not None
    assert again.value == {"list": [1, 2], "inner": {"x": 1}}


async def test_sync_twins_work_from_a_worker_thread_and_the_loop(
    make_store: MakeStore,
) -> None:
    store = await make_store()

    def sync_calls() -> tuple[Any, ...]:
        store.put(("s",), "k", {"v": 1})
        got = store.get(("s",), "k")
        found = store.search(("s",))
        spaces = store.list_namespaces()
        store.delete(("s",), "k")
        return got, found, spaces, store.get(("s",), "k")

    got, found, spaces, gone = await anyio.to_thread.run_sync(sync_calls)
    assert got.value == {"v": 1}
    assert keys(found) == ["k"]
    assert spaces == [("s",)]
    assert gone is None
    # On the loop thread itself (a notebook cell) they run on the shared sync loop.
    store.put(("s",), "k2", {"v": 2})
    again = store.get(("s",), "k2")
    assert again is not None and again.value == {"v": 2}


# -- namespaces ----------------------------------------------------------------


async def test_prefix_matches_whole_labels_only(make_store: MakeStore) -> None:
    store = await make_store()
    await store.aput(("user",), "a", {"v": 1})
    await store.aput(("users",), "b", {"v": 2})
    await store.aput(("user", "1"), "c", {"v": 3})
    await store.aput(("a", "b"), "d", {"v": 4})
    await store.aput(("a", "bc"), "e", {"v": 5})
    assert sorted(keys(await store.asearch(("user",)))) == ["a", "c"]
    assert keys(await store.asearch(("users",))) == ["b"]
    assert keys(await store.asearch(("a", "b"))) == ["d"]
    assert sorted(keys(await store.asearch(()))) == ["a", "b", "c", "d", "e"]


SPECIAL = 'we-ird #@:{}|*" sp ace'


async def test_special_characters_in_keys_labels_and_values(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    ns = ("tenant:1", SPECIAL, "{x}")
    value = {"email": "a@b.c", "tag": 'x-y|z {w} "q" *', "text": SPECIAL}
    await store.aput(ns, SPECIAL, value)
    await store.aput(ns, "plain", {"email": "other@b.c"})
    got = await store.aget(ns, SPECIAL)
    assert got is not None
    assert got.value == value
    assert got.key == SPECIAL
    assert keys(await store.asearch(ns[:2], filter={"email": "a@b.c"})) == [SPECIAL]
    assert keys(await store.asearch(ns, filter={"tag": value["tag"]})) == [SPECIAL]
    assert await store.alist_namespaces(prefix=("tenant:1",)) == [ns]
    await store.adelete(ns, SPECIAL)
    assert await store.aget(ns, SPECIAL) is None


NAMESPACES = [
    ("a", "b", "c"),
    ("a", "b", "d"),
    ("a", "e"),
    ("x", "b", "c"),
    ("users",),
    ("user", "1"),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, sorted(NAMESPACES)),
        ({"prefix": ("a",)}, [("a", "b", "c"), ("a", "b", "d"), ("a", "e")]),
        ({"prefix": ("a", "b")}, [("a", "b", "c"), ("a", "b", "d")]),
        ({"prefix": ("user",)}, [("user", "1")]),
        ({"suffix": ("c",)}, [("a", "b", "c"), ("x", "b", "c")]),
        ({"prefix": ("*", "b")}, [("a", "b", "c"), ("a", "b", "d"), ("x", "b", "c")]),
        ({"suffix": ("b", "*")}, [("a", "b", "c"), ("a", "b", "d"), ("x", "b", "c")]),
        ({"prefix": ("a",), "suffix": ("d",)}, [("a", "b", "d")]),
        ({"max_depth": 1}, [("a",), ("user",), ("users",), ("x",)]),
        ({"prefix": ("a",), "max_depth": 2}, [("a", "b"), ("a", "e")]),
        ({"limit": 2, "offset": 1}, sorted(NAMESPACES)[1:3]),
        ({"prefix": ("nope",)}, []),
    ],
)
async def test_list_namespaces(
    make_store: MakeStore, kwargs: dict[str, Any], expected: list[tuple[str, ...]]
) -> None:
    store = await make_store()
    for i, ns in enumerate(NAMESPACES):
        await store.aput(ns, f"k{i}", {"i": i})
    await store.aput(("a", "b", "c"), "second", {"i": 99})
    assert await store.alist_namespaces(**kwargs) == expected


async def test_emptied_namespace_is_not_listed(make_store: MakeStore) -> None:
    store = await make_store()
    await store.aput(("gone",), "k", {"v": 1})
    await store.aput(("kept",), "k", {"v": 1})
    await store.adelete(("gone",), "k")
    assert await store.alist_namespaces() == [("kept",)]


# -- search without query: order, filters, paging --------------------------------


async def test_search_without_query_is_newest_updated_first(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    await put_in_order(store, ("n",), ["a", "b", "c", "d"])
    await store.aput(("n",), "b", {"i": 10})
    results = await store.asearch(("n",))
    assert keys(results) == ["b", "d", "c", "a"]
    assert all(r.score is None for r in results)


async def test_offset_and_limit_page_through_results(make_store: MakeStore) -> None:
    store = await make_store()
    await put_in_order(store, ("p",), ["a", "b", "c", "d", "e"])
    everything = keys(await store.asearch(("p",), limit=10))
    assert everything == ["e", "d", "c", "b", "a"]
    pages = [keys(await store.asearch(("p",), limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert pages == [["e", "d"], ["c", "b"], ["a"], []]
    assert await store.asearch(("p",), limit=0) == []


FILTER_ITEMS: dict[str, dict[str, Any]] = {
    "k1": {
        "kind": "note",
        "score": 1,
        "meta": {"lang": "en", "level": 2},
        "tags": ["a", "b"],
    },
    "k2": {"kind": "note", "score": 5.0, "meta": {"lang": "fr", "level": 7}},
    "k3": {"kind": "todo", "score": 9, "meta": {"lang": "en"}},
    "k4": {"kind": "todo"},
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"kind": "note"}, {"k1", "k2"}),
        ({"score": 5}, {"k2"}),
        ({"score": {"$eq": 1}}, {"k1"}),
        ({"kind": {"$ne": "note"}}, {"k3", "k4"}),
        ({"score": {"$ne": 5}}, {"k1", "k3", "k4"}),
        ({"score": {"$gt": 1}}, {"k2", "k3"}),
        ({"score": {"$gte": 5}}, {"k2", "k3"}),
        ({"score": {"$lt": 5}}, {"k1"}),
        ({"score": {"$lte": 5}}, {"k1", "k2"}),
        ({"score": {"$gt": 1, "$lt": 9}}, {"k2"}),
        ({"kind": {"$gt": "note"}}, {"k3", "k4"}),
        ({"meta.lang": "en"}, {"k1", "k3"}),
        ({"meta.level": {"$gte": 2}}, {"k1", "k2"}),
        ({"kind": "todo", "meta.lang": "en"}, {"k3"}),
        ({"tags": ["a", "b"]}, {"k1"}),
        ({"meta": {"lang": "en"}}, {"k3"}),
        ({"missing": {"$ne": 1}}, {"k1", "k2", "k3", "k4"}),
        ({"missing": None}, set[str]()),
        (dict[str, Any](), {"k1", "k2", "k3", "k4"}),
    ],
)
async def test_filters(
    make_store: MakeStore, flt: dict[str, Any], expected: set[str]
) -> None:
    store = await make_store()
    for key, value in FILTER_ITEMS.items():
        await store.aput(("f",), key, value)
    assert set(keys(await store.asearch(("f",), filter=flt))) == expected


async def test_filter_is_applied_before_limit(make_store: MakeStore) -> None:
    store = await make_store()
    await store.abatch(
        [
            PutOp(namespace=("many",), key=f"k{i:02}", value={"i": i, "special": i < 3})
            for i in range(50)
        ]
    )
    found = await store.asearch(("many",), filter={"special": True}, limit=10)
    assert sorted(keys(found)) == ["k00", "k01", "k02"]
    assert (
        len(await store.asearch(("many",), filter={"i": {"$gte": 30}}, limit=100)) == 20
    )


# -- semantic search ---------------------------------------------------------------


async def test_query_ranks_closer_text_first(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "text"))
    await store.aput(("docs",), "pizza", {"text": "I like pizza"})
    await store.aput(("docs",), "bob", {"text": "my name is Bob"})
    await store.aput(("docs",), "mode", {"text": "dark mode is on"})
    results = await store.asearch(("docs",), query="what is my name")
    assert keys(results)[0] == "bob"
    scores = [r.score for r in results]
    assert all(s is not None and -1 < s <= 1 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    (exact,) = await store.asearch(("docs",), query="I like pizza", limit=1)
    assert exact.key == "pizza"
    assert exact.score == pytest.approx(1.0, abs=1e-3)


async def test_query_with_filter_and_paging(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "text"))
    texts = ["my name is Bob", "my name is Ann", "name tags", "I like pizza", "my dog"]
    for i, text in enumerate(texts):
        await store.aput(("q",), f"k{i}", {"text": text, "even": i % 2 == 0})
    ranked = keys(await store.asearch(("q",), query="what is my name", limit=10))
    assert (
        keys(await store.asearch(("q",), query="what is my name", offset=1, limit=2))
        == ranked[1:3]
    )
    evens = keys(
        await store.asearch(("q",), query="what is my name", filter={"even": True})
    )
    assert evens == [k for k in ranked if k in {"k0", "k2", "k4"}]


async def test_item_ranks_by_best_field_even_if_not_last(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "title", "body"))
    await store.aput(
        ("m",), "a", {"title": "my name is Bob", "body": "gardening tips for spring"}
    )
    await store.aput(("m",), "b", {"title": "tomato soup", "body": "I like pizza"})
    await store.aput(("alone",), "c", {"title": "my name is Bob"})
    by_name = await store.asearch(("m",), query="what is my name")
    by_food = await store.asearch(("m",), query="pizza")
    assert keys(by_name) == ["a", "b"]
    assert keys(by_food) == ["b", "a"]
    (alone,) = await store.asearch(("alone",), query="what is my name")
    assert by_name[0].score == pytest.approx(alone.score, abs=1e-4)


async def test_array_paths_embed_each_element(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(
        index=index_of(embedder, "tags[*]", "notes[*].text", "meta.summary")
    )
    await store.aput(("arr",), "x", {"tags": ["chess", "my name is Bob", "gardening"]})
    await store.aput(("arr",), "y", {"tags": ["pizza", "pasta"]})
    await store.aput(
        ("arr",), "z", {"notes": [{"text": "hiking"}, {"text": "sailing boats"}]}
    )
    await store.aput(("arr",), "w", {"meta": {"summary": "tax returns"}})
    await store.aput(("one",), "ref", {"tags": ["my name is Bob"]})
    (ref,) = await store.asearch(("one",), query="what is my name")
    by_name = await store.asearch(("arr",), query="what is my name")
    assert by_name[0].key == "x"
    assert by_name[0].score == pytest.approx(ref.score, abs=1e-4)
    assert keys(await store.asearch(("arr",), query="sailing", limit=1)) == ["z"]
    assert keys(await store.asearch(("arr",), query="tax returns", limit=1)) == ["w"]


async def test_put_index_false_and_field_override(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "text"))
    await store.aput(("i",), "plain", {"text": "my name is Bob"}, index=False)
    await store.aput(("i",), "indexed", {"text": "I like pizza"})
    await store.aput(
        ("i",),
        "other",
        {"text": "weather", "summary": "my name is Ann"},
        index=["summary"],
    )
    results = await store.asearch(("i",), query="what is my name")
    assert keys(results) == ["other", "indexed", "plain"]
    assert [r.score is None for r in results] == [False, False, True]
    plain = await store.aget(("i",), "plain")
    assert plain is not None
    assert plain.value == {"text": "my name is Bob"}
    assert all(r.score is None for r in await store.asearch(("i",)))


async def test_reindex_on_update(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "text"))
    await store.aput(("u",), "a", {"text": "my name is Bob"})
    await store.aput(("u",), "b", {"text": "I like pizza"})
    await store.aput(("u",), "a", {"text": "pizza with extra pizza"})
    assert keys(await store.asearch(("u",), query="pizza"))[0] == "a"
    await store.aput(("u",), "a", {"text": "pizza again"}, index=False)
    assert keys(await store.asearch(("u",), query="pizza")) == ["b", "a"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_embed_may_be_a_plain_function(make_store: MakeStore, kind: str) -> None:
    hashing = HashingEmbeddings(64)
    calls: list[list[str]] = []

    def sync_embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return hashing.embed_documents(texts)

    async def async_embed(texts: list[str]) -> list[list[float]]:
        return sync_embed(texts)

    fn = sync_embed if kind == "sync" else async_embed
    store = await make_store(index={"dims": 64, "embed": fn, "fields": ["text"]})
    await store.aput(("fn",), "bob", {"text": "my name is Bob"})
    await store.aput(("fn",), "pizza", {"text": "I like pizza"})
    assert keys(await store.asearch(("fn",), query="my name")) == ["bob", "pizza"]
    assert calls


async def test_bad_embedder_output_is_rejected_and_nothing_written(
    make_store: MakeStore,
) -> None:
    def wrong_dims(texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    store = await make_store(index={"dims": 8, "embed": wrong_dims})
    with pytest.raises(InvalidIndexConfigError, match="dims 8"):
        await store.aput(("bad",), "k", {"text": "hello"})
    assert await store.aget(("bad",), "k") is None


# -- batches -----------------------------------------------------------------------


async def test_batch_runs_mixed_ops_in_order(make_store: MakeStore) -> None:
    store = await make_store()
    ns = ("b", "1")
    results = await store.abatch(
        [
            PutOp(namespace=ns, key="k", value={"v": 1}),
            GetOp(namespace=ns, key="k"),
            PutOp(namespace=ns, key="k2", value={"v": 2}),
            SearchOp(namespace_prefix=("b",), filter={"v": 1}),
            PutOp(namespace=ns, key="k", value=None),
            GetOp(namespace=ns, key="k"),
            ListNamespacesOp(),
            PutOp(namespace=ns, key="k2", value=None),
            ListNamespacesOp(),
        ]
    )
    assert len(results) == 9
    assert results[0] is None
    assert results[2] is None
    assert getattr(results[1], "value", None) == {"v": 1}
    assert [getattr(r, "key", None) for r in results[3]] == ["k"]  # type: ignore[union-attr]
    assert results[5] is None
    assert results[6] == [ns]
    assert results[8] == []


async def test_one_embedding_call_per_batch(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder, "text", "tags[*]"))
    results = await store.abatch(
        [
            PutOp(
                namespace=("e",),
                key="bob",
                value={"text": "my name is Bob", "tags": ["chess", "hiking"]},
            ),
            PutOp(namespace=("e",), key="pizza", value={"text": "I like pizza"}),
            PutOp(namespace=("e",), key="skip", value={"text": "skip me"}, index=False),
            SearchOp(namespace_prefix=("e",), query="what is my name"),
            SearchOp(namespace_prefix=("e",), query="pizza"),
            GetOp(namespace=("e",), key="bob"),
        ]
    )
    assert len(embedder.calls) == 1
    assert sorted(embedder.calls[0]) == sorted(
        [
            "my name is Bob",
            "chess",
            "hiking",
            "I like pizza",
            "what is my name",
            "pizza",
        ]
    )
    by_name, by_food = results[3], results[4]
    assert keys(by_name)[0] == "bob"  # type: ignore[arg-type]
    assert keys(by_food)[0] == "pizza"  # type: ignore[arg-type]
    await store.abatch(
        [GetOp(namespace=("e",), key="bob"), SearchOp(namespace_prefix=("e",))]
    )
    assert len(embedder.calls) == 1


# -- TTL -------------------------------------------------------------------------


async def test_items_with_ttl_are_readable_before_expiry(make_store: MakeStore) -> None:
    store = await make_store(ttl={"default_ttl": 60, "refresh_on_read": True})
    await store.aput(("t",), "default", {"v": 1})
    await store.aput(("t",), "own", {"v": 2}, ttl=5)
    assert (await store.aget(("t",), "own")) is not None
    assert sorted(keys(await store.asearch(("t",)))) == ["default", "own"]
    minutes = await make_store(ttl=30)
    await minutes.aput(("t",), "k", {"v": 1}, ttl=0.5)
    assert (await minutes.aget(("t",), "k", refresh_ttl=False)) is not None


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "match"),
    [
        ((), "non-empty tuple"),
        (("a.b",), "must not contain '.'"),
        (("",), "non-empty strings"),
        (("a", 1), "non-empty strings"),
        ("abc", "tuple"),
    ],
)
async def test_bad_namespaces_are_rejected(
    make_store: MakeStore, namespace: Any, match: str
) -> None:
    store = await make_store()
    with pytest.raises(InvalidNamespaceError, match=match):
        await store.aput(namespace, "k", {"v": 1})
    with pytest.raises(ValueError, match=match):
        await store.aget(namespace, "k")
    assert await store.alist_namespaces() == []


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("text", "must be dicts"),
        ([1, 2], "must be dicts"),
        (None, "must be dicts"),
        ({1: "x"}, "keys must be strings"),
        ({"a": object()}, "JSON"),
    ],
)
async def test_bad_values_are_rejected(
    make_store: MakeStore, value: Any, match: str
) -> None:
    store = await make_store()
    with pytest.raises(InvalidValueError, match=match):
        await store.aput(("v",), "k", value)
    assert await store.aget(("v",), "k") is None


async def test_bad_keys_filters_paging_and_ttl_are_rejected(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    with pytest.raises(InvalidNamespaceError, match="key must be a non-empty string"):
        await store.aput(("v",), "", {"v": 1})
    with pytest.raises(InvalidFilterError, match=r"unknown filter operator '\$in'"):
        await store.asearch(("v",), filter={"a": {"$in": [1]}})
    with pytest.raises(InvalidFilterError, match="mixes operators"):
        await store.asearch(("v",), filter={"a": {"$gt": 1, "b": 2}})
    with pytest.raises(ValueError, match="limit"):
        await store.asearch(("v",), limit=-1)
    with pytest.raises(ValueError, match="offset"):
        await store.asearch(("v",), offset=-1)
    with pytest.raises(ValueError, match="ttl"):
        await store.aput(("v",), "k", {"v": 1}, ttl=-1)
    with pytest.raises(ValueError, match="ttl"):
        await store.aput(("v",), "k", {"v": 1}, ttl="5")  # type: ignore[arg-type]
    assert await store.aget(("v",), "k") is None


@pytest.mark.parametrize(
    ("ttl", "match"),
    [
        ({"bogus": 1}, "unknown ttl settings"),
        ({"default_ttl": 0}, "default_ttl"),
        ({"refresh_on_read": "yes"}, "refresh_on_read"),
        (-5, "ttl"),
        ("ten", "ttl"),
    ],
)
async def test_bad_ttl_config_is_rejected(
    make_store: MakeStore, ttl: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await make_store(ttl=ttl)


@pytest.mark.parametrize(
    ("index", "match"),
    [
        ({"embed": HashingEmbeddings(8)}, "needs 'dims' and 'embed'"),
        ({"dims": 8}, "needs 'dims' and 'embed'"),
        ({"dims": 0, "embed": HashingEmbeddings(8)}, "positive int"),
        ({"dims": 8, "embed": "openai:text-embedding-3-small"}, "embed must be"),
        ({"dims": 8, "embed": HashingEmbeddings(8), "fields": "text"}, "list of paths"),
        (
            {"dims": 8, "embed": HashingEmbeddings(8), "fields": ["a..b"]},
            "bad field path",
        ),
        ({"dims": 16, "embed": HashingEmbeddings(8)}, "8-dim"),
        ("yes", "must be a dict"),
    ],
)
async def test_bad_index_config_is_rejected(
    make_store: MakeStore, index: Any, match: str
) -> None:
    with pytest.raises(InvalidIndexConfigError, match=match):
        await make_store(index=index)


async def test_bad_index_path_on_put_writes_nothing(
    make_store: MakeStore, embedder: CountingEmbeddings
) -> None:
    store = await make_store(index=index_of(embedder))
    with pytest.raises(InvalidIndexConfigError, match="bad field path"):
        await store.abatch(
            [
                PutOp(namespace=("p",), key="ok", value={"v": 1}),
                PutOp(namespace=("p",), key="bad", value={"v": 1}, index=["a[x]"]),
            ]
        )
    assert await store.alist_namespaces() == []
    assert embedder.calls == []
