"""RedisStore's pure parts: TAG encoding, replies of expiring documents, search
rounds, the batch's hold-back of writes, numbers, and the index check (no Redis)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from stores._base import PutOp, SearchOp
from stores._errors import InvalidIndexConfigError
from stores._filters import parse_filter
from stores._memory_store import InMemoryStore
from stores.redis._index import create_command, plan_index
from stores.redis._query import decode_namespaces, parse_search
from stores.redis._schema import TAG_LIMIT, indexed_number, parse_settings, tag, untag
from stores.redis._search import SearchPlan, WidenHints, admitted

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=60) | st.builds(
    lambda c, n, tail: c * n + tail,
    st.sampled_from(["A", "é", "中", "😀", "_", " "]),
    st.integers(0, 1500),
    st.text(max_size=3),
)


@settings(deadline=None, max_examples=300)
@given(a=texts, b=texts)
def test_distinct_texts_never_share_a_tag(a: str, b: str) -> None:
    ta, tb = tag(a), tag(b)
    assert (ta == tb) == (a == b)
    assert re.fullmatch(r"[A-Za-z0-9_]+", ta)
    assert len(ta) <= TAG_LIMIT  # far below RediSearch's 4,096-character cut
    if not ta.startswith("_h"):
        assert untag(ta) == a


def test_long_tags_become_a_digest_and_short_ones_stay_readable() -> None:
    assert tag("a b") == "a_20b"
    assert tag("") == "_empty"
    assert tag("A" * TAG_LIMIT) == "A" * TAG_LIMIT
    assert re.fullmatch(r"_h[0-9a-f]{32}", tag("A" * (TAG_LIMIT + 1)))
    assert tag("A" * 4088 + "-victim")[:4096] != tag("A" * 4088)


def reply(*docs: list[bytes] | None, total: int | None = None) -> list[Any]:
    out: list[Any] = [total if total is not None else len(docs)]
    for i, fields in enumerate(docs):
        out += [f"d:{{{i}}}".encode(), fields]
    return out


def doc(key: str, ua: int = 1) -> list[bytes]:
    return [
        b"ns",
        b"a",
        b"k",
        key.encode(),
        b"v",
        b"{}",
        b"ca",
        b"1",
        b"ua",
        str(ua).encode(),
    ]


def test_a_document_that_expired_under_the_read_is_skipped_and_counted() -> None:
    total, docs, gone = parse_search(reply(doc("x"), None, doc("y")[:4], doc("z")))
    assert (total, [d[b"k"] for d in docs], gone) == (4, [b"x", b"z"], 2)
    listed = decode_namespaces_op([[b"ns", None], [b"ns", b"a.b"], [b"ns", b"c"]])
    assert listed == [("a", "b"), ("c",)]


def decode_namespaces_op(rows: list[list[Any]]) -> Any:
    from stores._base import ListNamespacesOp

    return decode_namespaces(ListNamespacesOp(), [len(rows), *rows])


def plan(op: SearchOp, *, filterable: Any = None) -> SearchPlan:
    settings_ = parse_settings(None, filterable)
    residual = parse_filter(op.filter)
    return SearchPlan(op, "idx", settings_, [], residual, None, 1_000_000, WidenHints())


def test_a_page_short_for_expired_documents_is_read_again() -> None:
    search = plan(SearchOp(namespace_prefix=("a",), limit=2))
    search.feed([reply(doc("x", 3), None, total=3)])
    assert not search.done and search.commands()  # the same read, once more
    search.feed([reply(doc("x", 3), doc("y", 2), total=2)])
    assert [r.key for r in search.result()] == ["x", "y"]


def test_rereads_are_bounded() -> None:
    search = plan(SearchOp(namespace_prefix=("a",), limit=2))
    for _ in range(10):
        if search.done:
            break
        search.feed([reply(doc("x"), None, total=2)])
    assert [r.key for r in search.result()] == ["x"]


def test_writes_wait_only_for_unfinished_searches_over_their_namespace() -> None:
    query = SearchOp(namespace_prefix=("u", "1"), filter={"rare": True})
    ops = [
        query,
        PutOp(namespace=("u", "2"), key="k", value={}),  # elsewhere: goes now
        SearchOp(namespace_prefix=("u",)),  # exact: one command, holds nothing
        PutOp(namespace=("u", "1", "x"), key="k", value={}),  # under the query: waits
        PutOp(namespace=("v",), key="k", value={}),  # after a waiting op: waits
    ]
    steps: list[Any] = [plan(op) if isinstance(op, SearchOp) else _Done() for op in ops]
    assert admitted(ops, steps, 0) == 3
    steps[0].feed([reply(doc("x"), total=1)])  # the query's page is known
    assert steps[0].done
    assert admitted(ops, steps, 3) == 5


class _Done:
    done = True


@pytest.mark.parametrize(
    ("number", "text"),
    [(1, "1"), (2**53, "9007199254740992"), (2**53 + 1, "9007199254740992.0"),
     (10**300, "1e+300"), (10**309, "inf"), (-(10**309), "-inf"), (0.1, "0.1")],
)  # fmt: skip
def test_numbers_are_indexed_as_the_doubles_redisearch_compares(
    number: float, text: str
) -> None:
    assert indexed_number(number) == text


async def test_memory_scores_an_exact_match_at_most_one() -> None:
    store = InMemoryStore(
        index={"dims": 3, "embed": lambda ts: [[0.1, 0.7, 0.3]] * len(ts)}
    )
    await store.aput(("s",), "k", {"text": "x"})
    (hit,) = await store.asearch(("s",), query="x")
    assert hit.score is not None and hit.score <= 1.0


INFO_OLD: list[Any] = [
    b"index_definition", [b"key_type", b"HASH", b"prefixes", [b"P:d:"]],
    b"attributes", [
        [b"identifier", b"p", b"attribute", b"p", b"type", b"TAG", b"SEPARATOR", b",", b"CASESENSITIVE"],
        [b"identifier", b"m", b"attribute", b"m", b"type", b"TAG"],
        [b"identifier", b"ua", b"attribute", b"ua", b"type", b"NUMERIC", b"SORTABLE", b"UNF"],
        [b"identifier", b"f0", b"attribute", b"f0", b"type", b"TAG", b"SEPARATOR", b",", b"CASESENSITIVE"],
    ],
]  # fmt: skip


def test_the_index_check_makes_remakes_or_refuses() -> None:
    settings_ = parse_settings(None, {"kind": "tag"})
    create = create_command("P:idx", "P", settings_)
    assert create[:7] == ("FT.CREATE", "P:idx", "ON", "HASH", "PREFIX", 1, "P:d:{")
    assert plan_index(RuntimeError("Unknown index name"), "P:idx", "P", settings_) == [
        create
    ]
    assert plan_index(INFO_OLD, "P:idx", "P", settings_) == [
        ("FT.DROPINDEX", "P:idx"),
        create,
    ]
    with pytest.raises(InvalidIndexConfigError, match=r"'kind' \(numeric\)"):
        plan_index(INFO_OLD, "P:idx", "P", parse_settings(None, {"kind": "numeric"}))


def test_widen_hints_start_where_the_last_search_ended_and_forget_the_oldest() -> None:
    hints = WidenHints(size=2)
    a, b, c = (("@a",), 11), (("@b",), 11), (("@c",), 11)
    assert hints.start(a) == 11  # nothing known: the first k
    hints.remember(a, 44)  # start wider next time
    assert hints.start(a) == 44
    hints.remember(b, 44)
    hints.remember(c, 44)  # a third kind: the oldest (a) goes
    assert (hints.start(a), hints.start(b), hints.start(c)) == (11, 44, 44)
    hints.remember(b, 11)  # no wider than the first k: forget b
    assert hints.start(b) == 11
    assert WidenHints().start(c) == 11  # each store has its own
