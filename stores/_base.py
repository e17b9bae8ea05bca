"""The store contract: ``BaseStore``, its convenience methods and their sync twins.

Every store implements one coroutine, ``abatch(ops)``; the convenience
methods (``aput``, ``aget``, ``asearch``, ...) and their sync twins are built
on it here, once. The operations (``_ops``) validate themselves on
construction, so a bad namespace, key, value or filter is rejected before
any store sees it; items are in ``_items``. Both are re-exported here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._closing import AsyncClosing
from ._errors import InvalidNamespaceError, InvalidValueError
from ._items import Item as Item, Namespace as Namespace, SearchItem as SearchItem
from ._match import MatchCondition as MatchCondition
from ._ops import (
    GetOp as GetOp,
    ListNamespacesOp as ListNamespacesOp,
    Op as Op,
    PutOp as PutOp,
    Result as Result,
    SearchOp as SearchOp,
    ensure_op as ensure_op,
)
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

T = TypeVar("T")


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


# -- the contract ------------------------------------------------------------


class BaseStore(AsyncClosing, ABC):
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
