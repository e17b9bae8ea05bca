"""Filter parsing and the reference semantics of ``Filter.matches``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from stores._errors import InvalidFilterError
from stores._filters import OPERATORS, Condition, Filter, parse_filter

# -- parsing -----------------------------------------------------------------------


def test_parsed_form_is_plain_conditions() -> None:
    parsed = parse_filter({"kind": "note", "meta.level": {"$gte": 2, "$lt": 9}})
    assert parsed == Filter(
        conditions=(
            Condition(path=("kind",), op="$eq", operand="note"),
            Condition(path=("meta", "level"), op="$gte", operand=2),
            Condition(path=("meta", "level"), op="$lt", operand=9),
        )
    )
    assert parse_filter(None) == Filter()
    assert parse_filter({}) == Filter()


def test_plain_dict_value_is_an_exact_match() -> None:
    parsed = parse_filter({"meta": {"lang": "en"}, "empty": {}})
    assert [c.op for c in parsed.conditions] == ["$eq", "$eq"]
    assert parsed.conditions[0].operand == {"lang": "en"}


@pytest.mark.parametrize(
    ("flt", "match"),
    [
        ("kind=note", "must be a dict"),
        ({1: "x"}, "keys must be strings"),
        ({"": 1}, "empty path segment"),
        ({"a..b": 1}, "empty path segment"),
        ({".a": 1}, "empty path segment"),
        ({"a.": 1}, "empty path segment"),
        ({"$eq": 1}, "must be inside a field"),
        ({"a": {"$in": [1]}}, r"unknown filter operator '\$in'"),
        ({"a": {"$regex": "x"}}, "unknown filter operator"),
        ({"a": {"$gt": 1, "b": 2}}, "mixes operators with plain keys"),
        ({"a": {"$gt": None}}, "needs a number or a string"),
        ({"a": {"$lt": [1]}}, "needs a number or a string"),
        ({"a": {"$gte": True}}, "needs a number or a string"),
        ({"a": object()}, "must be JSON data"),
        ({"a": {"$eq": {1: 2}}}, "must be JSON data"),
        ({"a": float("nan")}, "must be JSON data"),
    ],
)
def test_bad_filters_are_rejected(flt: Any, match: str) -> None:
    with pytest.raises(InvalidFilterError, match=match):
        parse_filter(flt)


def test_invalid_filter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown filter operator"):
        parse_filter({"a": {"$nope": 1}})


# -- semantics -----------------------------------------------------------------------

VALUE = {
    "n": 5,
    "f": 2.5,
    "s": "mid",
    "b": True,
    "z": None,
    "l": [1, {"x": 2}],
    "d": {"x": 1, "y": {"z": "deep"}},
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"n": 5}, True),
        ({"n": 5.0}, True),
        ({"n": "5"}, False),
        ({"b": True}, True),
        ({"b": 1}, False),
        ({"n": True}, False),
        ({"z": None}, True),
        ({"missing": None}, False),
        ({"l": [1, {"x": 2}]}, True),
        ({"l": [{"x": 2}, 1]}, False),
        ({"d": {"y": {"z": "deep"}, "x": 1}}, True),
        ({"d": {"x": 1}}, False),
        ({"d.y.z": "deep"}, True),
        ({"d.y.z": {"$gt": "a"}}, True),
        ({"d.x.y": 1}, False),
        ({"l.x": 2}, False),
        ({"n": {"$gt": 4, "$lt": 6}}, True),
        ({"n": {"$gt": 5}}, False),
        ({"n": {"$gte": 5}}, True),
        ({"f": {"$lte": 2.5}}, True),
        ({"f": {"$lt": 2.5}}, False),
        ({"s": {"$gt": "a", "$lt": "z"}}, True),
        ({"s": {"$gt": 1}}, False),
        ({"n": {"$gt": "a"}}, False),
        ({"b": {"$gt": 0}}, False),
        ({"l": {"$gt": 0}}, False),
        ({"missing": {"$gt": 0}}, False),
        ({"missing": {"$ne": 0}}, True),
        ({"missing": {"$eq": None}}, False),
        ({"n": {"$ne": 5}}, False),
        ({"n": {"$ne": 6}}, True),
        ({"n": 5, "s": "other"}, False),
        ({}, True),
    ],
)
def test_matches(flt: dict[str, Any], expected: bool) -> None:
    assert parse_filter(flt).matches(VALUE) is expected


# -- property: matches agrees with a straightforward reference ---------------------

MISSING = object()
KEYS = ["a", "b", "c"]
PATHS = ["a", "b", "c", "a.b", "b.c", "a.b.c"]

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["", "a", "b", "mid", "z"]),
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3)
range_operands = st.one_of(
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["a", "mid", "z"]),
)
op_specs = st.one_of(
    st.dictionaries(st.sampled_from(["$eq", "$ne"]), json_values, min_size=1),
    st.dictionaries(
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), range_operands, min_size=1
    ),
)
filters = st.dictionaries(st.sampled_from(PATHS), json_values | op_specs, max_size=3)


def ref_get(doc: Any, dotted: str) -> Any:
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def canon(x: Any) -> Any:
    """A comparable form: booleans tagged apart from numbers, dicts as sorted items."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int | float):
        return ("num", x)
    if isinstance(x, list):
        return ("list", tuple(canon(v) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((k, canon(v)) for k, v in x.items())))
    return (type(x).__name__, x)


def ref_op(found: Any, op: str, operand: Any) -> bool:
    if op == "$ne":
        return found is MISSING or canon(found) != canon(operand)
    if found is MISSING:
        return False
    if op == "$eq":
        return canon(found) == canon(operand)
    kinds = {canon(found)[0], canon(operand)[0]}
    if kinds not in ({"num"}, {"str"}):
        return False
    return {
        "$gt": found > operand,
        "$gte": found >= operand,
        "$lt": found < operand,
        "$lte": found <= operand,
    }[op]


def ref_matches(flt: dict[str, Any], doc: dict[str, Any]) -> bool:
    for path, spec in flt.items():
        found = ref_get(doc, path)
        if isinstance(spec, dict) and spec and all(k.startswith("$") for k in spec):
            if not all(ref_op(found, op, operand) for op, operand in spec.items()):
                return False
        elif not ref_op(found, "$eq", spec):
            return False
    return True


@settings(deadline=None, max_examples=300)
@given(flt=filters, doc=documents)
def test_matches_agrees_with_reference(
    flt: dict[str, Any], doc: dict[str, Any]
) -> None:
    assert parse_filter(flt).matches(doc) == ref_matches(flt, doc)


@settings(deadline=None, max_examples=200)
@given(doc=documents)
def test_a_document_matches_a_filter_built_from_itself(doc: dict[str, Any]) -> None:
    assert parse_filter(doc).matches(doc)
    assert parse_filter({k: {"$eq": v} for k, v in doc.items()}).matches(doc)


junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=4),
        st.sampled_from(sorted(OPERATORS)),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(
                st.text(max_size=4), st.sampled_from(sorted(OPERATORS)), st.integers()
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(deadline=None, max_examples=300)
@given(flt=junk, doc=documents)
def test_parse_raises_only_invalid_filter_error(flt: Any, doc: dict[str, Any]) -> None:
    try:
        parsed = parse_filter(flt)
    except InvalidFilterError:
        return
    assert isinstance(parsed.matches(doc), bool)
