"""LangGraph store-API snippets ported by changing imports, on InMemoryStore and RedisStore."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest

# from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, PutOp,
#     SearchOp, get_text_at_path
from stores import (
    GetOp,
    HashingEmbeddings,
    InMemoryStore,
    InvalidIndexConfigError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
    get_text_at_path,
)
from stores._field_paths import parse_field_path, texts_at
from tests.redis_server import redis_store_factory

NESTED = {
    "name": "test",
    "info": {
        "age": 25,
        "tags": ["a", "b", "c"],
        "metadata": {"created": "2024-01-01", "updated": "2024-01-02"},
        "ok": True,
    },
    "items": [
        {"id": 1, "value": "first", "tags": ["x", "y"]},
        {"id": 2, "value": "second", "tags": ["y", "z"]},
    ],
    "zeros": [0, 0.0, "0"],
    "empty_list": [],
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """redis.asyncio runs on asyncio only (as in tests/stores)."""
    return "asyncio"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_store(request: pytest.FixtureRequest) -> Any:
    async with AsyncExitStack() as stack:

        async def make(index: Any = None) -> Any:
            if request.param == "memory":
                return InMemoryStore(index=index)
            return await redis_store_factory(stack, index, None)

        yield make


@pytest.mark.parametrize(
    "path",
    [
        "$",
        "name",
        "info",
        "info.age",
        "info.ok",
        "info.metadata.*",
        "info.*",
        "{name,info.age}",
        "items[*].{id,value}",
        "items[*].tags[*]",
        "items[-1].value",
        "zeros[*]",
        "empty_list",
        "*",
    ],
)
def test_index_texts_are_langgraphs_texts(path: str) -> None:
    assert texts_at(NESTED, parse_field_path(path)) == get_text_at_path(NESTED, path)


@pytest.mark.parametrize(
    "path",
    [
        "items[].value",
        "items[abc].value",
        "{unclosed",
        "nested[{invalid}]",
        "{a,}",
        "a..b",
        "[0]",
    ],
)
def test_a_path_langgraph_would_silently_match_nothing_with_is_an_error(
    path: str,
) -> None:
    assert get_text_at_path(NESTED, path) == []  # LangGraph: accepted, embeds nothing
    with pytest.raises(InvalidIndexConfigError, match="field path"):
        InMemoryStore(
            index={"dims": 8, "embed": HashingEmbeddings(8), "fields": [path]}
        )


async def test_field_path_syntax_embeds_what_it_names(make_store: Any) -> None:
    store = await make_store(
        index={
            "dims": 256,
            "embed": HashingEmbeddings(256),
            "fields": ["info.metadata.*", "{name,info.age}", "items[*].{id,value}"],
        }
    )
    await store.aput(
        ("docs",), "a", {"name": "zebra", "info": {"metadata": {"x": "blue whale"}}}
    )
    await store.aput(("docs",), "b", {"items": [{"id": 1, "value": "red fox"}]})
    await store.aput(("docs",), "c", {"other": "nothing indexed"})
    by_key = {
        r.key: r.score for r in await store.asearch(("docs",), query="blue whale")
    }
    assert by_key["a"] is not None and by_key["a"] > 0.99
    fox = await store.asearch(("docs",), query="red fox", limit=1)
    assert fox[0].key == "b" and fox[0].score is not None and fox[0].score > 0.99
    zebra = await store.asearch(("docs",), query="zebra", limit=1)
    assert zebra[0].key == "a"


async def test_positional_ops_and_match_conditions(make_store: Any) -> None:
    store = await make_store(index={"dims": 64, "embed": HashingEmbeddings(64)})
    results = await store.abatch(
        [
            PutOp(("users", "1", "memories"), "k1", {"text": "likes tea"}),
            PutOp(("users", "2", "prefs"), "k2", {"text": "likes coffee"}),
            GetOp(("users", "1", "memories"), "k1"),
            SearchOp(("users",), None, 10, 0, "tea"),
            ListNamespacesOp(
                (
                    MatchCondition("prefix", ("users", "*")),
                    MatchCondition("suffix", ("memories",)),
                ),
                None,
                100,
                0,
            ),
        ]
    )
    assert results[2].value == {"text": "likes tea"}
    assert results[3][0].key == "k1"
    assert results[4] == [("users", "1", "memories")]
    assert await store.alist_namespaces(prefix=("users",), max_depth=2) == [
        ("users", "1"),
        ("users", "2"),
    ]


def test_match_conditions_are_checked() -> None:
    with pytest.raises(ValueError, match="match_type"):
        MatchCondition("middle", ("a",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one prefix condition"):
        ListNamespacesOp(
            (MatchCondition("prefix", ("a",)), MatchCondition("prefix", ("b",)))
        )
    op = ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("x",)),))
    assert op.suffix == ("x",) and op.prefix is None


async def test_index_config_reads_as_a_mapping(make_store: Any) -> None:
    embed = HashingEmbeddings(32)
    store = await make_store(index={"dims": 32, "embed": embed, "fields": ["text"]})
    assert store.index_config["dims"] == 32
    assert store.index_config["embed"] is embed
    assert store.index_config["fields"] == ["text"]
    assert (await make_store()).index_config is None


async def test_sync_in_memory_store_calls_inside_a_running_loop() -> None:
    store = InMemoryStore()
    store.put(("a",), "k", {"v": 1})  # LangGraph's InMemoryStore allows this too
    assert store.get(("a",), "k").value == {"v": 1}  # type: ignore[union-attr]
    assert (await store.aget(("a",), "k")) is not None


def test_embed_provider_strings() -> None:
    # LangGraph: InMemoryStore(index={"dims": 1536, "embed": "openai:text-embedding-3-small"})
    from stores import OpenAIEmbeddings

    store = InMemoryStore(
        index={"dims": 1536, "embed": "openai:text-embedding-3-small"}
    )
    assert store.index_config is not None
    embed = store.index_config.embed
    assert (
        isinstance(embed, OpenAIEmbeddings) and embed.model == "text-embedding-3-small"
    )
