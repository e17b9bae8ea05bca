"""A save stored as the tail appended to the previous one, and rebuilt from it."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from hypothesis import given, strategies as st

from stores.redis._appends import array_header, join_appended, split_appended

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
encode = msgspec.msgpack.encode


@given(st.lists(values, max_size=40), st.lists(values, max_size=40))
def test_an_appended_list_splits_into_its_tail_and_joins_back(
    head: list[Any], tail: list[Any]
) -> None:
    previous, save = encode(head), encode(head + tail)
    found = split_appended(previous, save)
    assert found is not None
    count, data = found
    assert count == len(tail)
    assert data == encode(tail)[len(array_header(len(tail))) :]
    assert join_appended(previous, [found]) == save


@given(st.lists(values, min_size=1, max_size=20), st.lists(values, max_size=5))
def test_a_list_whose_old_elements_changed_is_not_an_append(
    head: list[Any], tail: list[Any]
) -> None:
    changed = [*head[:-1], ["changed", head[-1]], *tail]
    assert split_appended(encode(head), encode(changed)) is None


@pytest.mark.parametrize(
    ("previous", "save"),
    [({"a": 1}, {"a": 1, "b": 2}), ("text", "text more"), ([1, 2], [1]), (None, [1])],
)
def test_anything_but_a_growing_array_is_stored_whole(previous: Any, save: Any) -> None:
    assert split_appended(encode(previous), encode(save)) is None


def test_tails_join_across_array_header_sizes() -> None:
    steps = [list(range(n)) for n in (3, 15, 16, 700, 65_535, 65_536, 70_000)]
    tails: list[tuple[int, bytes]] = []
    for a, b in itertools.pairwise(steps):
        found = split_appended(encode(a), encode(b))
        assert found is not None
        tails.append(found)
    assert join_appended(encode(steps[0]), tails) == encode(steps[-1])


def test_joining_onto_something_else_than_an_array_is_an_error() -> None:
    with pytest.raises(ValueError, match="msgpack array"):
        join_appended(encode({"a": 1}), [(1, encode(1))])
