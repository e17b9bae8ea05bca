"""Differential fuzz: RedisStore against InMemoryStore, the reference (issue 13).

Three targets, each of which finds one of the defects the first fuzz found:

- ``test_redis_store_agrees_with_the_memory_store``: batches of puts,
  deletes, gets, searches (namespace prefix, filters pushed down or not,
  query, offset, limit) and listings over namespaces with unicode-heavy and
  long labels, cut where their encoding crosses RediSearch's 4,096-character
  TAG cut and our own digest length (item 1), and numbers past the double
  range (item 6). Every result must equal the memory store's.
- ``test_searches_survive_ttls_that_run_out``: items whose TTLs run out
  while searches and listings run (item 2).
- ``test_query_searches_list_each_item_once_under_concurrent_writers``:
  writers re-put items with and without vectors while query searches run
  (item 3).

Hypothesis settings (profiles registered here; ``make test`` runs
``fuzz-ci``: about 10 s of the suite here, 2 shared cores)::

    fuzz-ci    max_examples: 80 (differential), 15 (expiring TTLs),
               10 (concurrent writers); deadline=None; derandomize=True
               (the same examples every run); database=None;
               suppress_health_check=[too_slow, data_too_large,
               function_scoped_fixture]
    fuzz-long  the same x100 examples, derandomize=False: run it with
               FUZZ_PROFILE=fuzz-long (the fuzz of the issue ran 4,000);
               FUZZ_SCALE=n sets the multiplier of either profile

Vectors come from a one-hot embedder and a FLAT index, so scores are exactly
0 or 1 on both stores and ties are broken newest first on both. Integers
between 2**53 and the end of the double range are left out: RediSearch
compares numbers as doubles, the one documented difference.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from stores._base import GetOp, ListNamespacesOp, PutOp, SearchOp
from stores._filters import OPERATORS, RANGE_OPERATORS
from stores._memory_store import InMemoryStore
from stores.redis._schema import TAG_LIMIT, tag
from stores.redis._store import RedisStore
from tests.redis_server import drop_prefix, new_prefix

from ._differential import OneHot, view

if TYPE_CHECKING:
    from stores._base import Op

pytestmark = pytest.mark.redis

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}
settings.register_profile("fuzz-ci", derandomize=True, **_COMMON)
settings.register_profile("fuzz-long", derandomize=False, **_COMMON)
_PROFILE = os.environ.get("FUZZ_PROFILE", "fuzz-ci")
_SCALE = int(os.environ.get("FUZZ_SCALE", 100 if _PROFILE == "fuzz-long" else 1))


def fuzz(examples: int) -> settings:
    """The settings of one target: the profile, with its example count."""
    return settings(settings.get_profile(_PROFILE), max_examples=examples * _SCALE)


# -- data ------------------------------------------------------------------------------

FIRSTS = ["u1", "u10", "users", "a b", "中文"]
text = st.text(
    alphabet=st.characters(exclude_characters=".", exclude_categories=("Cs",)),
    min_size=1,
    max_size=6,
)
WIDE = ["A", "é", "中", "😀", "_", " ", "*"]


@st.composite
def long_labels(draw: st.DrawFn, first: str) -> tuple[str, str]:
    """A label whose namespace ``(first, label)`` encodes to about a length limit,
    and a longer label that starts with it."""
    limit = draw(st.sampled_from([TAG_LIMIT, 4096]))
    wide = draw(st.sampled_from(WIDE))
    room = limit - len(tag(first + ".")) + draw(st.sampled_from([0, 0, -1, 1, -9]))
    width = len(tag(wide))
    count, pad = divmod(max(room, width), width)  # pad with "A" (one character each)
    probe = "A" * pad + wide * count
    return probe, probe + draw(text)


@st.composite
def label_pools(draw: st.DrawFn) -> list[tuple[str, ...]]:
    """Namespaces to use in one example: overlapping short ones and long ones."""
    firsts = draw(
        st.lists(st.sampled_from(FIRSTS), min_size=1, max_size=3, unique=True)
    )
    shorts = draw(st.lists(text, max_size=3))
    pools: list[tuple[str, ...]] = []
    for _ in range(
        draw(st.integers(1, 2))
    ):  # long ones first: drawn as often as the rest
        first = draw(st.sampled_from(firsts))
        probe, victim = draw(long_labels(first))
        pools += [(first, victim), (first, probe), (first, victim, "deeper")]
    pools += [(f,) for f in firsts]
    for first in firsts:
        pools += [(first, s) for s in shorts]
        pools += [(first, s, "x") for s in shorts[:1]]
    return pools


WORDS = ["apple", "bean", "cherry", "date", "egg fig", "!!!", "", "zzz"]
numbers = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([2**53, -(2**53), 10**309, -(10**309), 0.5, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
tags = st.one_of(
    text,
    st.sampled_from(["note", "Note", "", "B" * 4096, "B" * 4096 + "x", "中" * 500]),
)
scalars = st.one_of(tags, numbers, st.booleans(), st.none())
values = st.fixed_dictionaries(
    {},
    optional={
        "kind": scalars,
        "n": scalars,
        "text": st.sampled_from(WORDS),
        "tags": st.lists(st.sampled_from(WORDS), max_size=3),
        "meta": st.fixed_dictionaries({}, optional={"lang": scalars}),
    },
)
FIELDS = ["kind", "n", "text", "meta.lang", "meta", "missing"]


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    out: dict[str, Any] = {}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        op = draw(st.sampled_from(["exact", *sorted(OPERATORS)]))
        if op in RANGE_OPERATORS:
            out[field] = {op: draw(st.one_of(numbers, tags))}
        else:
            operand = draw(st.one_of(scalars, st.just({"lang": "note"})))
            out[field] = operand if op == "exact" else {op: operand}
    return out


@st.composite
def operations(draw: st.DrawFn, pools: list[tuple[str, ...]]) -> Op:
    namespace = draw(st.sampled_from(pools[:3]) | st.sampled_from(pools))
    key = draw(st.sampled_from(["k1", "k2", "K", "ключ"]))
    kind = draw(
        st.sampled_from(
            ["put", "put", "put", "delete", "get", "search", "search", "list"]
        )
    )
    if kind == "put":
        index = draw(st.sampled_from([None, None, False, ["text"], ["tags[*]"]]))
        return PutOp(namespace=namespace, key=key, value=draw(values), index=index)
    if kind == "delete":
        return PutOp(namespace=namespace, key=key, value=None)
    if kind == "get":
        return GetOp(namespace=namespace, key=key)
    if kind == "search":
        return SearchOp(
            namespace_prefix=namespace[
                : len(namespace) - draw(st.integers(0, len(namespace)))
            ],
            query=draw(st.none() | st.sampled_from(WORDS)),
            filter=draw(filters()),
            limit=draw(st.integers(0, 12)),
            offset=draw(st.integers(0, 4)),
        )
    affix = st.none() | st.sampled_from(
        [namespace[:1], namespace[-1:], ("*",), ("*", namespace[-1])]
    )
    return ListNamespacesOp(
        prefix=draw(affix),
        suffix=draw(affix),
        max_depth=draw(st.none() | st.integers(1, 3)),
        limit=draw(st.integers(1, 20)),
        offset=draw(st.integers(0, 3)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[list[Op]]]:
    pools = draw(label_pools())
    config: dict[str, Any] = {}
    if draw(st.booleans()):
        config["index"] = {
            "dims": 8,
            "embed": OneHot(),
            "fields": ["text", "tags[*]"],
            "algorithm": "flat",
        }
    fields = draw(st.lists(st.sampled_from(["kind", "n", "meta.lang"]), unique=True))
    kinds = {"kind": "tag", "n": "numeric", "meta.lang": "tag"}
    config["filterable"] = {f: kinds[f] for f in fields}
    batches = draw(
        st.lists(
            st.lists(operations(pools), min_size=1, max_size=4), min_size=1, max_size=10
        )
    )
    return config, batches


# -- the targets ---------------------------------------------------------------------------


@fuzz(80)
@given(scenario=scenarios())
async def test_redis_store_agrees_with_the_memory_store(
    redis_url: str, scenario: tuple[dict[str, Any], list[list[Op]]]
) -> None:
    config, batches = scenario
    index = config.get("index")
    memory = InMemoryStore(
        index={k: index[k] for k in ("dims", "embed", "fields")} if index else None
    )
    prefix = new_prefix()
    try:
        async with RedisStore(redis_url, prefix=prefix, **config) as redis_store:
            for ops in batches:
                expected = [view(r) for r in await memory.abatch(ops)]
                found = [view(r) for r in await redis_store.abatch(ops)]
                assert found == expected, ops
    finally:
        drop_prefix(prefix)


@fuzz(15)
@given(
    pools=label_pools(),
    ttls=st.lists(st.none() | st.integers(1, 15), min_size=1, max_size=40),
    limit=st.integers(1, 50),
)
async def test_searches_survive_ttls_that_run_out(
    redis_url: str, pools: list[tuple[str, ...]], ttls: list[int | None], limit: int
) -> None:
    prefix = new_prefix()
    items = {
        (pools[i % len(pools)], f"k{i}"): ttl for i, ttl in enumerate(ttls)
    }  # (namespace, key) -> TTL in ms (None: kept)
    kept = {k for k, ttl in items.items() if ttl is None}
    ops = [
        PutOp(
            namespace=ns,
            key=key,
            value={"i": i},
            ttl=None if ttl is None else ttl / 60_000,
        )
        for i, ((ns, key), ttl) in enumerate(items.items())
    ]
    try:
        async with RedisStore(redis_url, prefix=prefix) as store:
            await store.abatch(ops)
            with anyio.fail_after(10):
                while True:  # until every item with a TTL is gone, as the TTLs run out
                    # a search refreshes the TTLs it returns: these must not
                    found = await store.asearch((), limit=limit, refresh_ttl=False)
                    listed = await store.alist_namespaces(limit=1000)
                    seen = [(r.namespace, r.key) for r in found]
                    assert len(set(seen)) == len(seen)
                    assert set(seen) <= set(items)
                    assert {ns for ns, _ in kept} <= set(listed)
                    everything = await store.asearch(
                        (), limit=len(items) + 1, refresh_ttl=False
                    )
                    alive = {(r.namespace, r.key) for r in everything}
                    assert kept <= alive <= set(items)
                    if alive == kept:
                        break
                    await anyio.lowlevel.checkpoint()
    finally:
        drop_prefix(prefix)


@fuzz(10)
@given(
    count=st.integers(2, 8),
    pattern=st.lists(
        st.sampled_from(["vector", "plain", "other"]), min_size=1, max_size=4
    ),
    searches=st.integers(5, 25),
    query=st.sampled_from(["apple", "bean", "!!!"]),
)
async def test_query_searches_list_each_item_once_under_concurrent_writers(
    redis_url: str, count: int, pattern: list[str], searches: int, query: str
) -> None:
    prefix = new_prefix()
    names = sorted(f"k{i}" for i in range(count))
    index = {"dims": 8, "embed": OneHot(), "fields": ["text"], "algorithm": "flat"}

    async def writer(store: RedisStore, key: str) -> None:
        for i in range(1_000_000):  # with a vector, without one, another text: in turn
            step = pattern[i % len(pattern)]
            value = {"text": "bean" if step == "other" else "apple", "i": i}
            await store.aput(
                ("w",), key, value, index=False if step == "plain" else None
            )

    try:
        async with RedisStore(redis_url, prefix=prefix, index=index) as store:
            await store.abatch(
                [PutOp(namespace=("w",), key=k, value={"text": "apple"}) for k in names]
            )
            async with anyio.create_task_group() as tg:
                for key in names:
                    tg.start_soon(writer, store, key)
                for _ in range(searches):
                    found = await store.asearch(("w",), query=query, limit=count + 1)
                    assert sorted(r.key for r in found) == names
                tg.cancel_scope.cancel()
    finally:
        drop_prefix(prefix)
