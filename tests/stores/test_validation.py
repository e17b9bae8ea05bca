"""Validation at the store boundary: namespaces, keys, ops, field paths, TTL config."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from stores._base import (
    GetOp,
    ListNamespacesOp,
    PutOp,
    SearchOp,
    ensure_op,
    validate_namespace,
)
from stores._errors import InvalidIndexConfigError, InvalidNamespaceError
from stores._memory_store import InMemoryStore
from stores._namespaces import (
    TTLConfig,
    decode_namespace,
    encode_namespace,
    has_prefix,
    namespace_matches,
    parse_ttl_config,
)
from stores._vectors import parse_field_path, texts_at

labels = st.text(min_size=1, max_size=8).filter(lambda s: "." not in s)
namespaces = st.lists(labels, min_size=1, max_size=5).map(tuple)

bad_labels = st.one_of(
    st.just(""),
    st.text(max_size=4).map(lambda s: s + "." + s),
    st.integers(),
    st.none(),
    st.binary(min_size=1, max_size=3),
)


@st.composite
def bad_namespaces(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["empty", "bad_label", "not_a_tuple"]))
    if kind == "empty":
        return draw(st.sampled_from([(), []]))
    if kind == "not_a_tuple":
        return draw(
            st.one_of(
                st.text(min_size=1),
                st.integers(),
                st.none(),
                st.sets(labels, min_size=1),
            )
        )
    good: list[Any] = draw(st.lists(labels, max_size=3))
    position = draw(st.integers(0, len(good)))
    good.insert(position, draw(bad_labels))
    return tuple(good)


@settings(deadline=None, max_examples=200)
@given(ns=namespaces)
def test_valid_namespaces_are_accepted_and_round_trip(ns: tuple[str, ...]) -> None:
    assert validate_namespace(ns) == ns
    assert validate_namespace(list(ns)) == ns
    assert decode_namespace(encode_namespace(ns)) == ns
    assert has_prefix(ns, ns[:1])
    assert namespace_matches(ns, ns, ns)
    assert namespace_matches(ns, ("*",) * len(ns), None)


@settings(deadline=None, max_examples=25)
@given(ns=namespaces, key=st.text(min_size=1, max_size=8))
def test_valid_namespaces_round_trip_through_a_store(
    ns: tuple[str, ...], key: str
) -> None:
    store = InMemoryStore()
    store.put(ns, key, {"ns": list(ns)})
    item = store.get(ns, key)
    assert item is not None
    assert (item.namespace, item.key, item.value) == (ns, key, {"ns": list(ns)})
    assert store.list_namespaces() == [ns]


@settings(deadline=None, max_examples=300)
@given(ns=bad_namespaces())
def test_invalid_namespaces_are_rejected(ns: Any) -> None:
    with pytest.raises(InvalidNamespaceError):
        validate_namespace(ns)
    with pytest.raises(InvalidNamespaceError):
        PutOp(namespace=ns, key="k", value={})
    with pytest.raises(InvalidNamespaceError):
        GetOp(namespace=ns, key="k")


@settings(deadline=None, max_examples=100)
@given(ns=bad_namespaces().filter(lambda n: n is not None and n not in ((), [])))
def test_invalid_prefixes_are_rejected(ns: Any) -> None:
    with pytest.raises(InvalidNamespaceError):
        SearchOp(namespace_prefix=ns)
    with pytest.raises(InvalidNamespaceError):
        ListNamespacesOp(prefix=ns)


def test_string_namespace_is_not_split_into_letters() -> None:
    store = InMemoryStore()
    with pytest.raises(InvalidNamespaceError, match=r"write \('users',\)"):
        store.put(
            "users", "k", {"v": 1}
        )  # a str is a Sequence[str]: only runtime catches it
    with pytest.raises(InvalidNamespaceError, match="prefix"):
        store.search("users")
    assert store.list_namespaces() == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GetOp(namespace=("a",), key=""), "key must be a non-empty string"),
        (
            lambda: PutOp(namespace=("a",), key="k", value={}, index=["ok", ""]),
            "list of field paths",
        ),
        (
            lambda: PutOp(namespace=("a",), key="k", value={}, index=True),  # pyright: ignore[reportArgumentType] -- bad on purpose
            "list of field paths",
        ),
        (lambda: SearchOp(namespace_prefix=("a",), query=3), "query must be a string"),  # type: ignore[arg-type]
        (lambda: SearchOp(namespace_prefix=("a",), limit=True), "limit"),
        (lambda: ListNamespacesOp(max_depth=0), "max_depth"),
        (lambda: ListNamespacesOp(offset=-1), "offset"),
    ],
)
def test_ops_validate_themselves(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_batch_rejects_non_ops() -> None:
    with pytest.raises(TypeError, match="batch operations must be"):
        ensure_op(("put", "a"))
    with pytest.raises(TypeError, match="batch operations must be"):
        InMemoryStore().batch([{"op": "get"}])  # type: ignore[list-item]


# -- field paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "tokens"),
    [
        ("$", ()),
        ("text", ("text",)),
        ("a.b.c", ("a", "b", "c")),
        ("$.a.b", ("a", "b")),
        ("arr[*]", ("arr", ...)),
        ("arr[*].x", ("arr", ..., "x")),
        ("arr[0]", ("arr", 0)),
        ("arr[-1]", ("arr", -1)),
        ("m[*][1].y", ("m", ..., 1, "y")),
    ],
)
def test_field_paths_parse(path: str, tokens: tuple[Any, ...]) -> None:
    assert parse_field_path(path) == tokens


@pytest.mark.parametrize(
    "path", ["", "a..b", ".a", "a.", "a[x]", "a[", "[0]", "a[*", 3]
)
def test_bad_field_paths_are_rejected(path: Any) -> None:
    with pytest.raises(InvalidIndexConfigError, match="field path"):
        parse_field_path(path)


DOC = {
    "text": "hello",
    "n": 3,
    "empty": "",
    "none": None,
    "arr": ["one", {"x": "deep"}, 7],
    "notes": [{"x": "first"}, {"y": "no x"}, {"x": "last"}],
    "meta": {"a": {"b": "nested"}},
}


@pytest.mark.parametrize(
    ("path", "texts"),
    [
        ("text", ["hello"]),
        ("n", ["3"]),
        ("empty", []),
        ("none", []),
        ("missing", []),
        ("meta.a.b", ["nested"]),
        ("meta.a", ['{"b": "nested"}']),
        ("arr[*]", ["one", '{"x": "deep"}', "7"]),
        ("arr[0]", ["one"]),
        ("arr[-1]", ["7"]),
        ("arr[9]", []),
        ("notes[*].x", ["first", "last"]),
        ("text[*]", []),
    ],
)
def test_texts_at_extracts_each_part(path: str, texts: list[str]) -> None:
    assert texts_at(DOC, parse_field_path(path)) == texts


def test_whole_value_path_is_json_text() -> None:
    assert texts_at({"b": "x", "a": 1}, parse_field_path("$")) == ['{"a": 1, "b": "x"}']


# -- TTL config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "config"),
    [
        (None, TTLConfig()),
        (5, TTLConfig(default_ttl=5.0)),
        (0.5, TTLConfig(default_ttl=0.5)),
        ({"default_ttl": 2}, TTLConfig(default_ttl=2.0)),
        ({"refresh_on_read": False}, TTLConfig(refresh_on_read=False)),
        (
            {"default_ttl": 1, "refresh_on_read": False, "sweep_interval_minutes": 3},
            TTLConfig(default_ttl=1.0, refresh_on_read=False),
        ),
    ],
)
def test_ttl_config_parses(ttl: Any, config: TTLConfig) -> None:
    assert parse_ttl_config(ttl) == config


@pytest.mark.parametrize(
    ("ttl", "match"),
    [
        (0, "positive"),
        (-1, "positive"),
        (True, "positive"),
        (float("inf"), "positive"),
        ("5", "positive"),
        ({"default": 5}, "unknown ttl settings"),
        ({"refresh_on_read": 1}, "must be a bool"),
        ({"sweep_interval_minutes": -1}, "sweep_interval_minutes"),
    ],
)
def test_bad_ttl_config_is_rejected(ttl: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_ttl_config(ttl)
