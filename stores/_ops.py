"""The four batch operations, validated on construction, and ``ensure_op``.

``GetOp``, ``PutOp``, ``SearchOp`` and ``ListNamespacesOp`` check their
namespace, key, value, filter and paging when built, so a store only ever
sees well-formed operations; ``ensure_op`` turns list namespaces into tuples.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, cast

import msgspec

from ._filters import parse_filter
from ._items import Item, Namespace, SearchItem
from ._match import MatchCondition, conditions_by_kind
from ._validation import (
    validate_key,
    validate_namespace,
    validate_prefix,
    validate_ttl,
    validate_value,
)


def _validate_paging(limit: object, offset: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")


class GetOp(msgspec.Struct, frozen=True, gc=False):
    """Read one item: ``GetOp(namespace, key)`` (positional as in LangGraph, or by keyword)."""

    namespace: Namespace
    key: str
    refresh_ttl: bool = True

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        validate_key(self.key)


class PutOp(msgspec.Struct, frozen=True, gc=False):
    """Write one item, or delete it when ``value`` is None: ``PutOp(namespace, key, value)``.

    ``index``: None uses the store's configured fields, False skips
    embedding, a list of field paths embeds those paths. ``ttl`` in minutes.
    """

    namespace: Namespace
    key: str
    value: dict[str, Any] | None
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        validate_key(self.key)
        if self.value is not None:
            validate_value(self.value)
        validate_ttl(self.ttl)
        if (
            self.index is not None
            and self.index is not False
            and (
                not isinstance(self.index, list)  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
                or not all(isinstance(p, str) and p for p in self.index)  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            )
        ):
            raise ValueError(
                f"index must be None, False or a list of field paths, got {self.index!r}"
            )


class SearchOp(msgspec.Struct, frozen=True, gc=False):
    """Search items under a namespace prefix, by filter and optional semantic query.

    Positional order is LangGraph's: ``SearchOp(namespace_prefix, filter,
    limit, offset, query, refresh_ttl)``.
    """

    namespace_prefix: Namespace
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True

    def __post_init__(self) -> None:
        validate_prefix(self.namespace_prefix)
        _validate_paging(self.limit, self.offset)
        if self.query is not None and not isinstance(self.query, str):  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise ValueError(f"query must be a string or None, got {self.query!r}")
        if self.filter is not None:
            parse_filter(self.filter)


class ListNamespacesOp(msgspec.Struct, frozen=True, gc=False):
    """List namespaces matching a prefix and/or suffix ('*' matches any one label).

    Positional order is LangGraph's: ``ListNamespacesOp(match_conditions,
    max_depth, limit, offset)``; ``prefix=``/``suffix=`` are the same
    conditions spelled directly. At most one prefix and one suffix condition.
    """

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0
    prefix: Namespace | None = None
    suffix: Namespace | None = None

    def __post_init__(self) -> None:
        if self.match_conditions:
            self._adopt_conditions(tuple(self.match_conditions))
        if self.prefix is not None:
            validate_prefix(self.prefix, what="prefix")
        if self.suffix is not None:
            validate_prefix(self.suffix, what="suffix")
        depth = cast("object", self.max_depth)  # user input: may be anything
        if depth is not None and (
            isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
        ):
            raise ValueError(
                f"max_depth must be a positive int or None, got {self.max_depth!r}"
            )
        _validate_paging(self.limit, self.offset)

    def _adopt_conditions(self, conditions: tuple[MatchCondition, ...]) -> None:
        found = conditions_by_kind(conditions, self.prefix, self.suffix)
        msgspec.structs.force_setattr(self, "match_conditions", conditions)
        for kind, path in found.items():
            msgspec.structs.force_setattr(self, kind, path)


Op: TypeAlias = GetOp | PutOp | SearchOp | ListNamespacesOp
Result: TypeAlias = Item | list[SearchItem] | list[Namespace] | None


_OP_TYPES = (GetOp, PutOp, SearchOp, ListNamespacesOp)


def ensure_op(op: object) -> Op:
    """Return ``op`` if it is one of the four operation types, else raise TypeError.

    An op built with list namespaces (validation accepts them) comes back
    with tuples, so every store sees the same op.
    """
    if not isinstance(op, _OP_TYPES):
        raise TypeError(
            f"batch operations must be GetOp, PutOp, SearchOp or ListNamespacesOp, got {op!r}"
        )
    # Lists where the types say tuples: validation accepts them from users.
    match op:
        case GetOp(namespace=list()) | PutOp(namespace=list()):  # pyright: ignore[reportUnnecessaryComparison] -- user input
            return msgspec.structs.replace(op, namespace=tuple(op.namespace))
        case SearchOp(namespace_prefix=list()):  # pyright: ignore[reportUnnecessaryComparison] -- user input
            return msgspec.structs.replace(
                op, namespace_prefix=tuple(op.namespace_prefix)
            )
        case ListNamespacesOp(prefix=list()) | ListNamespacesOp(suffix=list()):  # pyright: ignore[reportUnnecessaryComparison] -- user input
            return msgspec.structs.replace(
                op,
                prefix=None if op.prefix is None else tuple(op.prefix),
                suffix=None if op.suffix is None else tuple(op.suffix),
            )
        case _:
            return op
