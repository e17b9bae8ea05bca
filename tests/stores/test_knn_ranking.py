"""A KNN reply's hits as RedisStore ranks them: parsed by position, the best
part of each item first, ties newest first (no Redis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from stores.redis._query import hit_doc, parse_hits
from stores.redis._ranking import rank_parts


def fields(key: bytes, ua: int, d: bytes, ttl: bool = False) -> list[bytes]:
    # RediSearch's order: the distance first, then the RETURN fields
    out = [b"d", d, b"ns", b"a", b"k", key, b"v", b"{}", b"ca", b"1", b"ua", b"%d" % ua]
    return [*out, *([b"t", b"5"] if ttl else [])]


def reply(*hits: Any) -> list[Any]:
    out: list[Any] = [len(hits)]
    for i, f in enumerate(hits):
        out += [b"d:%d" % i, f]
    return out


def test_hits_in_another_order_are_put_in_order_and_expired_ones_counted() -> None:
    usual = fields(b"x", 2, b"0.5", ttl=True)
    shuffled = [
        b"d",
        b"1",
        b"ua",
        b"3",
        b"k",
        b"y",
        b"ca",
        b"1",
        b"v",
        b"{}",
        b"ns",
        b"a",
    ]
    only_d = [b"d", b"1"]  # expired: RediSearch still returns the score
    no_ua = [b"d", b"1", b"ns", b"a", b"k", b"z", b"v", b"{}", b"ca", b"1", b"t", b"5"]
    total, hits, gone = parse_hits(reply(usual, shuffled, [], None, only_d, no_ua))
    assert (total, gone) == (6, 4)
    assert hits[0] is usual
    assert hits[1] == fields(b"y", 3, b"1")
    assert hit_doc(hits[0])[b"t"] == b"5"
    assert hit_doc(hits[1]) == {
        b"ns": b"a", b"k": b"y", b"v": b"{}", b"ca": b"1", b"ua": b"3", b"d": b"1"
    }  # fmt: skip


def reference(hits: list[list[bytes]], count: int | None) -> list[list[bytes]]:
    # The ranking as it was: one sort by (distance, -updated), first part of each item.
    docs = [hit_doc(h) for h in hits]
    ranked = sorted(
        range(len(hits)), key=lambda i: (float(docs[i][b"d"]), -int(docs[i][b"ua"]))
    )
    seen: set[tuple[bytes, bytes]] = set()
    out: list[list[bytes]] = []
    for i in ranked:
        ident = (docs[i][b"ns"], docs[i][b"k"])
        if ident not in seen:
            seen.add(ident)
            out.append(hits[i])
    return out if count is None else out[:count]


part = st.tuples(
    st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f"]),
    st.integers(1, 4),
    st.sampled_from([b"0", b"0.25", b"0.5", b"1", b"1.0", b"2"]),
    st.booleans(),
)


@settings(deadline=None, max_examples=300)
@given(parts=st.lists(part, max_size=30), count=st.none() | st.integers(1, 8))
def test_ranking_matches_one_sort_by_distance_then_newest(
    parts: list[tuple[bytes, int, bytes, bool]], count: int | None
) -> None:
    hits = [fields(k, ua, d, ttl) for k, ua, d, ttl in parts]
    distances = [float(h[1]) for h in hits]
    ranked = rank_parts(hits, distances, count)
    expected = reference(hits, count)
    assert [id(h) for h in ranked] == [id(h) for h in expected]
