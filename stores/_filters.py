"""Search filters: parsed once into a small public form, then evaluated.

Grammar (all conditions are ANDed)::

    {"field": value}                       exact match (dicts and lists by value)
    {"a.b.c": value}                       a dotted path into nested dicts
    {"field": {"$gt": 1, "$lte": 9}}       operators; several in one dict are ANDed

Operators: ``$eq $ne $gt $gte $lt $lte``. ``Filter`` is the parsed form: a
tuple of ``Condition(path, op, operand)`` with exact matches spelled ``$eq``,
so another backend (RediSearch) can compile it without re-parsing.
``Filter.matches`` is the reference semantics:

- a missing field fails every operator except ``$ne``;
- ``$eq``/``$ne`` compare JSON values: booleans are not numbers, ``1 == 1.0``;
- ``$gt $gte $lt $lte`` compare two numbers or two strings, anything else is
  simply False (never an exception).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import msgspec

from ._errors import InvalidFilterError

MAX_DEPTH: Final = 100
"""How deeply a store value or a filter operand may nest dicts and lists.

Deeper data is refused up front: decoding it later, from a deep call stack,
could fail with RecursionError and break every read of a shared prefix.
"""

OPERATORS: Final = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
"""Every operator a filter may use."""

RANGE_OPERATORS: Final = frozenset({"$gt", "$gte", "$lt", "$lte"})
"""Operators that order values; their operand is a number or a string."""

_MISSING: Final = object()


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """One test on one field: ``path`` into the value, an operator, an operand."""

    path: tuple[str, ...]
    """Keys from the top of the value down, e.g. ``("a", "b")`` for ``"a.b"``."""
    op: str
    """One of OPERATORS; an exact match is ``"$eq"``."""
    operand: Any
    """A JSON value; a number or string for range operators."""

    def matches(self, value: Mapping[str, Any]) -> bool:
        """Whether ``value`` satisfies this condition. Never raises."""
        found = lookup(value, self.path)
        if found is _MISSING:
            return self.op == "$ne"
        if self.op == "$eq":
            return json_equal(found, self.operand)
        if self.op == "$ne":
            return not json_equal(found, self.operand)
        return _compare(found, self.op, self.operand)


class Filter(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed filter: every condition must hold. No conditions matches everything."""

    conditions: tuple[Condition, ...] = ()

    def matches(self, value: Mapping[str, Any]) -> bool:
        """Whether ``value`` satisfies every condition. Never raises."""
        return all(c.matches(value) for c in self.conditions)


def parse_filter(filter: Mapping[str, Any] | None) -> Filter:
    """Parse a user filter into a ``Filter``.

    Raises:
        InvalidFilterError: (also a ValueError) for a non-mapping, a
            non-string or empty key, an empty path segment, an unknown
            operator, an operator dict mixed with plain keys, a non-JSON
            operand (NaN, bytes, a lone surrogate, deeper than MAX_DEPTH),
            or a range operand that is not a number or string.
    """
    if filter is None:
        return Filter()
    if not isinstance(filter, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
        raise InvalidFilterError(
            f"filter must be a dict like {{'field': value}}, got {type(filter).__name__}"
        )
    conditions: list[Condition] = []
    for key, spec in filter.items():
        path = _parse_path(key)
        ops = _as_mapping(spec)
        if ops is not None and any(_is_op_key(k) for k in ops):
            conditions.extend(_parse_ops(key, path, ops))
        else:
            _check_json(key, spec)
            conditions.append(Condition(path=path, op="$eq", operand=spec))
    return Filter(conditions=tuple(conditions))


def _as_mapping(obj: object) -> Mapping[Any, Any] | None:
    return cast("Mapping[Any, Any]", obj) if isinstance(obj, Mapping) else None


def _as_sequence(obj: object) -> Sequence[Any] | None:
    return cast("Sequence[Any]", obj) if isinstance(obj, list | tuple) else None


def _is_op_key(key: object) -> bool:
    return isinstance(key, str) and key.startswith("$")


def _parse_path(key: object) -> tuple[str, ...]:
    if not isinstance(key, str):
        raise InvalidFilterError(f"filter keys must be strings, got {key!r}")
    if key.startswith("$"):
        raise InvalidFilterError(
            f"operator {key!r} must be inside a field's dict, e.g. {{'field': {{{key!r}: x}}}}"
        )
    if not _is_text(key):
        raise InvalidFilterError(
            f"filter key {key!r} holds a lone surrogate; keys must be valid Unicode text"
        )
    path = tuple(key.split("."))
    if not all(path):
        raise InvalidFilterError(
            f"filter key {key!r} has an empty path segment; use 'a' or 'a.b'"
        )
    return path


def _parse_ops(
    key: str, path: tuple[str, ...], spec: Mapping[Any, Any]
) -> list[Condition]:
    plain = [k for k in spec if not _is_op_key(k)]
    if plain:
        raise InvalidFilterError(
            f"filter on {key!r} mixes operators with plain keys {plain!r}; "
            "use either {'$op': x, ...} or an exact value"
        )
    out: list[Condition] = []
    for op, operand in spec.items():
        if op not in OPERATORS:
            raise InvalidFilterError(
                f"unknown filter operator {op!r} on {key!r}; "
                f"use one of {', '.join(sorted(OPERATORS))}"
            )
        _check_json(key, operand)
        if op in RANGE_OPERATORS and not (
            _is_number(operand) or isinstance(operand, str)
        ):
            raise InvalidFilterError(
                f"{op} on {key!r} needs a number or a string, got {operand!r}"
            )
        out.append(Condition(path=path, op=op, operand=operand))
    return out


def _check_json(key: str, operand: object) -> None:
    if not _is_json(operand, MAX_DEPTH):
        raise InvalidFilterError(
            f"filter value for {key!r} must be JSON data (None, bool, number, "
            f"valid Unicode str, list, dict with str keys, nested at most "
            f"{MAX_DEPTH} levels), got {reprlib.repr(operand)}"
        )


def _is_text(text: str) -> bool:
    # a lone surrogate (which json.loads can produce) is not valid Unicode
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_json(obj: object, depth: int) -> bool:
    if isinstance(obj, str):
        return _is_text(obj)
    if obj is None or isinstance(obj, bool | int):
        return True
    if isinstance(obj, float):
        return math.isfinite(obj)
    if depth <= 0:
        return False
    if (items := _as_sequence(obj)) is not None:
        return all(_is_json(x, depth - 1) for x in items)
    if (fields := _as_mapping(obj)) is not None:
        return all(
            isinstance(k, str) and _is_text(k) and _is_json(v, depth - 1)
            for k, v in fields.items()
        )
    return False


def lookup(value: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested dicts, or a private sentinel when missing."""
    node: Any = value
    for part in path:
        fields = _as_mapping(node)
        if fields is None or part not in fields:
            return _MISSING
        node = fields[part]
    return node


def is_missing(found: object) -> bool:
    """Whether ``lookup`` found nothing."""
    return found is _MISSING


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans differ from numbers, ``1 == 1.0``, containers by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    seq_a, seq_b = _as_sequence(a), _as_sequence(b)
    if seq_a is not None and seq_b is not None:
        return len(seq_a) == len(seq_b) and all(
            json_equal(x, y) for x, y in zip(seq_a, seq_b, strict=True)
        )
    map_a, map_b = _as_mapping(a), _as_mapping(b)
    if map_a is not None and map_b is not None:
        return map_a.keys() == map_b.keys() and all(
            json_equal(map_a[k], map_b[k]) for k in map_a
        )
    if type(a) is not type(b):
        return False
    return bool(a == b)


def _compare(found: Any, op: str, operand: Any) -> bool:
    both_numbers = _is_number(found) and _is_number(operand)
    both_strings = isinstance(found, str) and isinstance(operand, str)
    if not (both_numbers or both_strings):
        return False
    if op == "$gt":
        return bool(found > operand)
    if op == "$gte":
        return bool(found >= operand)
    if op == "$lt":
        return bool(found < operand)
    return bool(found <= operand)
