"""Validation at the store boundary: namespaces, keys, values, TTLs.

Each check returns its input or raises the documented error naming the
problem, before any store sees the operation. Values must survive a JSON
round trip unchanged (nothing is silently converted), nest at most
``MAX_DEPTH`` levels, and hold valid Unicode text, as labels and keys must.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable
from typing import Any, Final, cast

import msgspec

from ._errors import InvalidNamespaceError, InvalidValueError
from ._filters import MAX_DEPTH

__all__ = [
    "MAX_DEPTH",
    "MAX_TTL_MINUTES",
    "check_text",
    "validate_key",
    "validate_namespace",
    "validate_prefix",
    "validate_ttl",
    "validate_value",
]

MAX_TTL_MINUTES: Final = 1e9
"""The longest ``ttl`` a store accepts (about 1,900 years); None means no expiry."""

_JSON_ENCODER: Final = msgspec.json.Encoder()
_JSON_DECODER: Final = msgspec.json.Decoder()


def check_text(text: str, what: str) -> str:
    """``text``, or InvalidNamespaceError if it is not valid Unicode (a lone surrogate).

    ``json.loads`` turns ``"\\ud800"`` into such a string; it cannot be
    encoded as UTF-8, so no store could write it.
    """
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise InvalidNamespaceError(
                f"{what} {text!r} is not valid Unicode text: it holds the lone "
                f"surrogate {text[exc.start]!r} at position {exc.start}"
            ) from None
    return text


def validate_namespace(
    namespace: object, *, what: str = "namespace"
) -> tuple[str, ...]:
    """Return ``namespace`` as a tuple, or raise InvalidNamespaceError naming the problem."""
    if isinstance(namespace, list):
        namespace = tuple(namespace)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType] -- checked below
    if not isinstance(namespace, tuple) or not namespace:
        raise InvalidNamespaceError(
            f"{what} must be a non-empty tuple of strings, got {namespace!r}"
        )
    for label in namespace:  # pyright: ignore[reportUnknownVariableType] -- checked below
        if not isinstance(label, str) or not label:
            raise InvalidNamespaceError(
                f"{what} labels must be non-empty strings, got {label!r} in {namespace!r}"
            )
        if "." in label:
            raise InvalidNamespaceError(
                f"{what} labels must not contain '.', got {label!r} in {namespace!r}"
            )
        check_text(label, f"{what} label")
    return namespace  # pyright: ignore[reportUnknownVariableType] -- validated above


def validate_prefix(
    prefix: object, *, what: str = "namespace prefix"
) -> tuple[str, ...]:
    """Like validate_namespace, but the empty tuple (match everything) is allowed."""
    if prefix is None or prefix == () or prefix == []:
        return ()
    return validate_namespace(prefix, what=what)


def validate_key(key: object) -> str:
    """Return ``key``, or raise InvalidNamespaceError if it is not a non-empty string."""
    if not isinstance(key, str) or not key:
        raise InvalidNamespaceError(f"key must be a non-empty string, got {key!r}")
    return check_text(key, "key")


def validate_value(value: object) -> dict[str, Any]:
    """Return ``value`` if it is a dict of JSON data, else raise InvalidValueError.

    JSON data is None, bool, int, finite float, str, list, and dict with str
    keys, nested at most ``MAX_DEPTH`` levels: what comes back from the
    store equals what went in. NaN, infinities, bytes, tuples, sets,
    Decimal, datetime, UUID and other objects are refused, not converted.
    """
    if not isinstance(value, dict):
        raise InvalidValueError(
            f"store values must be dicts, got {type(value).__name__}: wrap it, e.g. {{'data': value}}"
        )
    data = cast("dict[str, Any]", value)  # checked below: a dict of JSON data
    try:
        raw = _JSON_ENCODER.encode(value)
        copy = _JSON_DECODER.decode(raw)
        too_deep = (
            raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(copy) > MAX_DEPTH
        )
        same = not too_deep and copy == value
    except RecursionError:
        too_deep, same = True, False
    except (TypeError, ValueError, msgspec.EncodeError):
        too_deep, same = False, False  # described below
    if too_deep:
        raise InvalidValueError(
            f"store value nests dicts and lists more than {MAX_DEPTH} levels deep; flatten it"
        )
    if not same:
        raise InvalidValueError(f"store values must be JSON data: {_not_json(data)}")
    return data


def _depth(value: object) -> int:
    """How deeply JSON data (dicts and lists only) nests, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]  # dicts and lists of JSON data
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        children: Iterable[Any] = (
            cast("dict[str, Any]", node).values()
            if isinstance(node, dict)
            else cast("list[Any]", node)
        )
        stack.extend(
            (child, depth + 1) for child in children if type(child) in _CONTAINERS
        )
    return deepest


_JSON_SCALARS: Final = (str, int, float, type(None))
_CONTAINERS: Final = (dict, list)  # decoded JSON: exactly these types


def _not_json(value: object) -> str:
    """What in ``value`` is not JSON data, with its path, e.g. ``value['a'][0] is a set``."""
    stack: list[tuple[object, str, int]] = [(value, "value", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{path} nests more than {MAX_DEPTH} levels deep"
        if isinstance(node, str):
            if not node.isascii():
                try:
                    node.encode()
                except UnicodeEncodeError as exc:
                    return f"{path} holds the lone surrogate {node[exc.start]!r}, not valid Unicode text"
            continue
        if isinstance(node, float) and not math.isfinite(node):
            return f"{path} is {node!r}, which JSON cannot hold; use None or a string"
        if isinstance(node, _JSON_SCALARS):
            continue
        if isinstance(node, dict):
            for k, v in cast("dict[object, object]", node).items():
                if not isinstance(k, str):
                    return f"{path} has the key {k!r}; keys must be strings"
                stack.append((k, f"{path} key {k!r}", depth))
                stack.append((v, f"{path}[{k!r}]", depth + 1))
        elif isinstance(node, list):
            items = cast("list[object]", node)
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items))
        else:
            kind = type(node)
            hint = (
                "use a list"
                if issubclass(kind, tuple | set | frozenset)
                else "convert it yourself, e.g. to a str"
            )
            return f"{path} is a {kind.__qualname__} ({reprlib.repr(node)}); {hint}"
    return "it does not survive a JSON round trip unchanged"


def validate_ttl(ttl: object) -> float | None:
    """Return ``ttl`` (minutes) or None; raise ValueError for a non-positive, non-number or too long one."""
    if ttl is None:
        return None
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not ttl > 0
        or not ttl <= MAX_TTL_MINUTES
    ):
        raise ValueError(
            f"ttl is in minutes and must be a positive number up to {MAX_TTL_MINUTES:.0e} "
            f"(about 1,900 years) or None for no expiry, got {ttl!r}"
        )
    return float(ttl)
