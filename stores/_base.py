"""The store contract: items, batch operations, validation, and ``BaseStore``.

Every store implements one coroutine, ``abatch(ops)``; the convenience
methods (``aput``, ``aget``, ``asearch``, ...) and their sync twins are built
on it here, once. Operations validate themselves on construction, so a bad
namespace, key, value or filter is rejected before any store sees it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Self, TypeAlias, TypeVar, cast

import msgspec

from ._errors import InvalidNamespaceError, InvalidValueError
from ._filters import parse_filter
from ._match import MatchCondition, conditions_by_kind
from ._sync import run_sync
from ._validation import (
    MAX_DEPTH as MAX_DEPTH,
    MAX_TTL_MINUTES as MAX_TTL_MINUTES,
    check_text as check_text,
    validate_key as validate_key,
    validate_namespace as validate_namespace,
    validate_prefix as validate_prefix,
    validate_ttl as validate_ttl,
    validate_value as validate_value,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
    from types import TracebackType

Namespace: TypeAlias = tuple[str, ...]
T = TypeVar("T")


class Item(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A stored value with its namespace, key and timestamps."""

    namespace: Namespace
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def dict(self) -> dict[str, Any]:
        """The item as a plain dict (LangGraph's ``Item.dict()``)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class SearchItem(Item, frozen=True, kw_only=True):
    """An item returned by search; ``score`` is similarity (higher is closer), None without a query."""

    score: float | None = None

    def dict(self) -> dict[str, Any]:
        """The item as a plain dict, with its score."""
        return {**super().dict(), "score": self.score}


# -- validation (the checks live in _validation) -----------------------------


def _validate_paging(limit: object, offset: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")


def _as_tuple(namespace: Sequence[str], *, what: str = "namespace") -> Namespace:
    # tuple("users") would silently become ("u", "s", "e", "r", "s").
    if isinstance(namespace, str):
        raise InvalidNamespaceError(
            f"{what} must be a tuple of strings, not the string {namespace!r}; "
            f"write ({namespace!r},)"
        )
    try:
        return tuple(namespace)
    except TypeError:
        raise InvalidNamespaceError(
            f"{what} must be a non-empty tuple of strings, got {namespace!r}"
        ) from None


# -- operations --------------------------------------------------------------


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


# -- the contract ------------------------------------------------------------


class BaseStore(ABC):
    """A namespaced key-value store with optional semantic search.

    Implementations provide ``abatch``; everything else is built on it.
    Stores are async context managers; ``aclose()`` releases connections.
    Sync methods block the calling thread (see ``stores._sync.run_sync``).
    """

    def _blocking(
        self, fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, **kwargs: Any
    ) -> T:
        """Run the coroutine function ``fn`` from sync code (see ``stores._sync.route``)."""
        return run_sync(fn, *args, **kwargs)

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute ``ops`` in order and return one result per op.

        A store must make at most one embeddings call per batch (all texts of
        all puts and queries together). Raises StoreUnavailableError when the
        backend cannot be reached.
        """

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Blocking twin of ``abatch``."""
        return self._blocking(self.abatch, list(ops))

    async def aget(
        self, namespace: Sequence[str], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """Return the item at ``namespace``/``key``, or None."""
        op = GetOp(
            namespace=_as_tuple(namespace),
            key=key,
            refresh_ttl=refresh_ttl is not False,
        )
        (result,) = await self.abatch([op])
        assert result is None or isinstance(result, Item)
        return result

    async def asearch(
        self,
        namespace_prefix: Sequence[str],
        /,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items under ``namespace_prefix``: by similarity to ``query`` if given, else newest-updated first."""
        op = SearchOp(
            namespace_prefix=_as_tuple(namespace_prefix, what="namespace prefix"),
            query=query,
            filter=dict(filter) if filter is not None else None,
            limit=limit,
            offset=offset,
            refresh_ttl=refresh_ttl is not False,
        )
        (result,) = await self.abatch([op])
        assert isinstance(result, list)
        return result  # pyright: ignore[reportReturnType] -- SearchOp yields SearchItems

    async def aput(
        self,
        namespace: Sequence[str],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None = None,
    ) -> None:
        """Create or replace the item; an update keeps ``created_at``. ``ttl`` in minutes."""
        if value is None:  # pyright: ignore[reportUnnecessaryComparison] -- user input
            raise InvalidValueError(
                "store values must be dicts; use adelete() to remove an item"
            )
        await self.abatch(
            [
                PutOp(
                    namespace=_as_tuple(namespace),
                    key=key,
                    value=value,
                    index=index,
                    ttl=ttl,
                )
            ]
        )

    async def adelete(self, namespace: Sequence[str], key: str) -> None:
        """Delete the item if it exists."""
        await self.abatch([PutOp(namespace=_as_tuple(namespace), key=key, value=None)])

    async def alist_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """Namespaces that hold items, sorted, truncated to ``max_depth`` labels and deduplicated."""
        op = ListNamespacesOp(
            prefix=_as_tuple(prefix, what="prefix") if prefix is not None else None,
            suffix=_as_tuple(suffix, what="suffix") if suffix is not None else None,
            max_depth=max_depth,
            limit=limit,
            offset=offset,
        )
        (result,) = await self.abatch([op])
        assert isinstance(result, list)
        return result  # pyright: ignore[reportReturnType] -- ListNamespacesOp yields tuples

    def get(
        self, namespace: Sequence[str], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """Blocking twin of ``aget``."""
        return self._blocking(self.aget, namespace, key, refresh_ttl=refresh_ttl)

    def search(
        self,
        namespace_prefix: Sequence[str],
        /,
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Blocking twin of ``asearch``."""
        return self._blocking(
            self.asearch,
            namespace_prefix,
            query=query,
            filter=filter,
            limit=limit,
            offset=offset,
            refresh_ttl=refresh_ttl,
        )

    def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None = None,
    ) -> None:
        """Blocking twin of ``aput``."""
        self._blocking(self.aput, namespace, key, value, index, ttl=ttl)

    def delete(self, namespace: Sequence[str], key: str) -> None:
        """Blocking twin of ``adelete``."""
        self._blocking(self.adelete, namespace, key)

    def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """Blocking twin of ``alist_namespaces``."""
        return self._blocking(
            self.alist_namespaces,
            prefix=prefix,
            suffix=suffix,
            max_depth=max_depth,
            limit=limit,
            offset=offset,
        )

    async def aclose(self) -> None:  # noqa: B027 -- a default, not abstract: InMemoryStore holds nothing
        """Release connections; the default store holds none."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
