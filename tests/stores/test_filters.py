"""Filter parsing and the reference semantics of ``Filter.matches``."""

from __future__ import annotations

from typing import Any, cast

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
        ({"l": [1]}, False),
        ({"l": [1, {"x": 2}, 3]}, False),
        ({"l": [1, {"x": 2.0}]}, True),
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
OPS = sorted(OPERATORS)

# Few distinct leaves, so values of different types (True, 1, 1.0, "1") often meet.
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 2),
    st.sampled_from([0.0, 1.0, 1.5, -0.0]),
    st.sampled_from(["", "1", "a", "b"]),
)
containers = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
json_values = st.one_of(leaves, leaves, containers)  # mostly leaves
documents = st.dictionaries(st.sampled_from(KEYS), json_values, min_size=1, max_size=3)
range_operands = st.one_of(
    st.integers(0, 2),
    st.sampled_from([0.5, 1.0, 1.5]),
    st.sampled_from(["", "1", "a", "b"]),
)


def paths_in(doc: Any, prefix: str = "") -> list[str]:
    if not isinstance(doc, dict):
        return []
    out: list[str] = []
    for key, value in cast("dict[str, Any]", doc).items():
        out.append(prefix + key)
        out.extend(paths_in(value, prefix + key + "."))
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document and a filter aimed at it: its own paths, often its own values as operands."""
    doc = draw(documents)
    flt: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths_in(doc) + PATHS))
        found = ref_get(doc, path)
        own = [] if found is MISSING else [st.just(found)]
        if draw(st.booleans()):
            flt[path] = draw(st.one_of(*own, json_values))
            continue
        spec: dict[str, Any] = {}
        for op in draw(
            st.lists(st.sampled_from(OPS), min_size=1, max_size=3, unique=True)
        ):
            if op in ("$eq", "$ne"):
                spec[op] = draw(st.one_of(*own, json_values))
            else:
                usable = (
                    own
                    if isinstance(found, int | float | str)
                    and not isinstance(found, bool)
                    else []
                )
                spec[op] = draw(st.one_of(*usable, range_operands))
        flt[path] = spec
    return doc, flt


def ref_get(doc: Any, dotted: str) -> Any:
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = cast("dict[str, Any]", node)[part]
    return node


def canon(x: Any) -> Any:
    """A comparable form: booleans tagged apart from numbers, dicts as sorted items."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, int | float):
        return ("num", x)
    if isinstance(x, list):
        return ("list", tuple(canon(v) for v in cast("list[Any]", x)))
    if isinstance(x, dict):
        items = cast("dict[str, Any]", x).items()
        return ("dict", tuple(sorted((k, canon(v)) for k, v in items)))
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
        ops = cast("dict[str, Any]", spec) if isinstance(spec, dict) else {}
        if ops and all(k.startswith("$") for k in ops):
            if not all(ref_op(found, op, operand) for op, operand in ops.items()):
                return False
        elif not ref_op(found, "$eq", spec):
            return False
    return True


@settings(deadline=None, max_examples=400)
@given(case=cases())
def test_matches_agrees_with_reference(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    doc, flt = case
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
