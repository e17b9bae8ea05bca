"""Task-result caches: the ``BaseCache`` contract and ``InMemoryCache``.

Shaped like LangGraph's ``langgraph.cache.base.BaseCache``: keys are
``(namespace, key)`` pairs, values are opaque bytes (the runtime owns
serialization), each set with an optional TTL in seconds.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias, final

import anyio.lowlevel

from ._closing import AsyncClosing
from ._sync import run_sync

CacheNamespace: TypeAlias = tuple[str, ...]
FullKey: TypeAlias = tuple[CacheNamespace, str]


class BaseCache(AsyncClosing, ABC):
    """A cache of task results; implementations provide the three coroutines."""

    @abstractmethod
    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        """The cached values of ``keys`` that are present and not expired."""

    @abstractmethod
    async def aset(self, pairs: Mapping[FullKey, tuple[bytes, int | None]]) -> None:
        """Store each ``key: (value, ttl_seconds or None)``."""

    @abstractmethod
    async def aclear(self, namespaces: Sequence[CacheNamespace] | None = None) -> None:
        """Delete the entries of ``namespaces`` (every entry when None)."""

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        """Blocking twin of ``aget``."""
        return run_sync(self.aget, keys)

    def set(self, pairs: Mapping[FullKey, tuple[bytes, int | None]]) -> None:
        """Blocking twin of ``aset``."""
        run_sync(self.aset, pairs)

    def clear(self, namespaces: Sequence[CacheNamespace] | None = None) -> None:
        """Blocking twin of ``aclear``."""
        run_sync(self.aclear, namespaces)


@final
class InMemoryCache(BaseCache):
    """A cache in process memory (LangGraph's ``InMemoryCache``); never blocks.

    Expired entries are dropped when read. ``clock`` (seconds, like
    ``time.monotonic``) is injectable for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[CacheNamespace, dict[str, tuple[bytes, float | None]]] = {}

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        """The cached values of ``keys`` that are present and not expired."""
        await anyio.lowlevel.checkpoint()
        now = self._clock()
        found: dict[FullKey, bytes] = {}
        for ns, key in keys:
            entries = self._data.get(ns, {})
            entry = entries.get(key)
            if entry is None:
                continue
            if entry[1] is not None and entry[1] <= now:
                del entries[key]
                continue
            found[(ns, key)] = entry[0]
        return found

    async def aset(self, pairs: Mapping[FullKey, tuple[bytes, int | None]]) -> None:
        """Store each ``key: (value, ttl_seconds or None)``."""
        await anyio.lowlevel.checkpoint()
        now = self._clock()
        for (ns, key), (value, ttl) in pairs.items():
            expires = now + ttl if ttl is not None else None
            self._data.setdefault(ns, {})[key] = (value, expires)

    async def aclear(self, namespaces: Sequence[CacheNamespace] | None = None) -> None:
        """Delete the entries of ``namespaces`` (every entry when None)."""
        await anyio.lowlevel.checkpoint()
        if namespaces is None:
            self._data.clear()
            return
        for ns in namespaces:
            self._data.pop(tuple(ns), None)
