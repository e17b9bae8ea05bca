"""Bad input is refused up front with the documented error, on every store kind.

Non-JSON values are refused, not converted (NaN, bytes, sets, tuples,
Decimal, datetime); values and filter operands nest at most ``MAX_DEPTH``
levels; a lone surrogate (``json.loads('"\\ud800"')``) in a label, key,
value or filter is an error naming it, never a bare UnicodeEncodeError.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from stores._base import MAX_DEPTH, PutOp
from stores._errors import InvalidFilterError, InvalidNamespaceError, InvalidValueError

if TYPE_CHECKING:
    from .conftest import MakeStore

SURROGATE = json.loads('"\\ud800"')


class Color(enum.IntEnum):
    RED = 1


def nested(levels: int) -> dict[str, Any]:
    """A value whose dicts and lists nest ``levels`` deep."""
    value: Any = {"leaf": 1}
    for i in range(levels - 1):  # lists and dicts in turn, a dict outermost
        value = {"a": value} if (levels - i) % 2 == 0 else [value]
    return value


NOT_JSON: list[tuple[dict[str, Any], str]] = [
    ({"x": float("nan")}, r"value\['x'\] is nan"),
    ({"x": [1, float("inf")]}, r"value\['x'\]\[1\] is inf"),
    ({"x": -float("inf")}, "is -inf"),
    ({"x": b"bytes"}, r"value\['x'\] is a bytes"),
    ({"x": {1, 2}}, "is a set"),
    ({"x": frozenset({1})}, "is a frozenset"),
    ({"x": (1, 2)}, "is a tuple.*use a list"),
    ({"x": decimal.Decimal("1.5")}, "is a Decimal"),
    ({"x": datetime.datetime(2020, 1, 1)}, "is a datetime"),
    ({"x": datetime.date(2020, 1, 1)}, "is a date"),
    ({"x": uuid.UUID(int=1)}, "is a UUID"),
    ({"x": {"y": object()}}, r"value\['x'\]\['y'\] is a object"),
    ({1: "int key"}, "has the key 1; keys must be strings"),
    ({"x": {"y": {2: 3}}}, r"value\['x'\]\['y'\] has the key 2"),
]


@pytest.mark.parametrize(("value", "match"), NOT_JSON, ids=[m for _, m in NOT_JSON])
async def test_non_json_values_are_refused_not_converted(
    make_store: MakeStore, value: dict[str, Any], match: str
) -> None:
    store = await make_store()
    with pytest.raises(InvalidValueError, match=match):
        await store.aput(("v",), "k", value)
    with pytest.raises(InvalidValueError, match=match):
        await store.abatch([PutOp(namespace=("v",), key="k", value=value)])
    assert await store.aget(("v",), "k") is None


async def test_values_that_round_trip_equal_are_accepted(make_store: MakeStore) -> None:
    store = await make_store()
    value = {
        "big": 10**30,
        "neg": -0.0,
        "f": 1.5,
        "enum": Color.RED,
        "u": "é€😀",
        "n": None,
    }
    await store.aput(("v",), "k", value)
    item = await store.aget(("v",), "k")
    assert item is not None and item.value == value


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 985, 2000, 50_000])
async def test_values_nested_too_deeply_are_refused(
    make_store: MakeStore, levels: int
) -> None:
    store = await make_store()
    with pytest.raises(InvalidValueError, match=f"more than {MAX_DEPTH} levels"):
        await store.aput(("deep",), "k", nested(levels))
    with pytest.raises(InvalidFilterError, match=f"nested at most {MAX_DEPTH} levels"):
        await store.asearch(("deep",), filter={"a": nested(levels)})


async def test_the_deepest_value_allowed_reads_back_everywhere(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    value = nested(MAX_DEPTH)
    await store.aput(("deep",), "k", value)
    await store.aput(("deep",), "flat", {"a": 1})
    item = await store.aget(("deep",), "k")
    assert item is not None and item.value == value
    found = await store.asearch(("deep",), filter={"a": value["a"]})
    assert [r.key for r in found] == ["k"]
    assert len(await store.asearch(("deep",))) == 2


SURROGATES: list[tuple[str, Any, type[Exception], str]] = [
    ("label", lambda s: s.aput(("ok", f"a{SURROGATE}"), "k", {}), InvalidNamespaceError, "namespace label"),
    ("key", lambda s: s.aput(("ok",), f"k{SURROGATE}", {}), InvalidNamespaceError, "key"),
    ("value", lambda s: s.aput(("ok",), "k", {"v": [SURROGATE]}), InvalidValueError, r"value\['v'\]\[0\] holds the lone surrogate"),
    ("value key", lambda s: s.aput(("ok",), "k", {SURROGATE: 1}), InvalidValueError, "lone surrogate"),
    ("get", lambda s: s.aget(("ok", SURROGATE), "k"), InvalidNamespaceError, "lone surrogate"),
    ("prefix", lambda s: s.asearch(("ok", SURROGATE)), InvalidNamespaceError, "lone surrogate"),
    ("filter", lambda s: s.asearch(("ok",), filter={"kind": SURROGATE}), InvalidFilterError, "valid Unicode"),
    ("filter key", lambda s: s.asearch(("ok",), filter={SURROGATE: 1}), InvalidFilterError, "lone surrogate"),
    ("listing", lambda s: s.alist_namespaces(prefix=(SURROGATE,)), InvalidNamespaceError, "lone surrogate"),
    ("delete", lambda s: s.adelete(("ok",), SURROGATE), InvalidNamespaceError, "lone surrogate"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("where", "call", "error", "match"), SURROGATES, ids=[s[0] for s in SURROGATES]
)
async def test_a_lone_surrogate_is_the_documented_error(
    make_store: MakeStore, where: str, call: Any, error: type[Exception], match: str
) -> None:
    store = await make_store()
    with pytest.raises(error, match=match):
        await call(store)
    assert await store.asearch(("ok",)) == []
