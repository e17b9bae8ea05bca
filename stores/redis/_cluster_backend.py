"""``ClusterBackend``: what a cluster of Runtimes keeps in Redis, behind one object.

The runtime's cluster (``runtime/_cluster.py``) speaks to Redis only
through this: the lease table (``_leases``), the request and reply streams
(``_inbox``), and blocking reads on a connection of their own. Redis
errors are re-raised as StoreUnavailableError naming what failed.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, final

from stores._errors import StoreUnavailableError

from ._cluster_io import dedicated
from ._connection import RedisConnection, resolve_url, translate_errors
from ._inbox import Entry, Inbox, Reader
from ._leases import LeaseTable, parse_lease
from ._wire import ReplyError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from types import TracebackType

__all__ = ["ClusterBackend", "Entry", "parse_lease"]


class _Errors(translate_errors):
    __slots__ = ()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, ReplyError):
            raise StoreUnavailableError(
                f"{self._what} failed: Redis refused it: {exc}"
            ) from exc
        super().__exit__(exc_type, exc, tb)


@final
class ClusterBackend:
    """The Redis side of one cluster: ``url`` (None: ``REDIS_URL``) and a key ``prefix``.

    Raises:
        ValueError: if neither ``url`` nor ``REDIS_URL`` names a Redis (the
            embedded per-process Redis cannot host a cluster).
    """

    def __init__(self, url: str | None, *, prefix: str) -> None:
        resolved = resolve_url(url)
        if resolved is None:
            raise ValueError(
                "Runtime(cluster=True) needs a Redis every process can reach: set "
                "REDIS_URL or pass cluster='redis://host:port' (the embedded Redis "
                "is private to one process and cannot host a cluster)"
            )
        self.url = resolved
        self.conn = RedisConnection(resolved, name="cluster")
        self.leases = LeaseTable(self.conn, prefix)
        self.inbox = Inbox(self.conn, prefix)

    def errors(self, what: str) -> _Errors:
        """A context that re-raises Redis errors as StoreUnavailableError naming ``what``."""
        return _Errors(self.conn, what)

    @asynccontextmanager
    async def reader(self) -> AsyncGenerator[Reader]:
        """Blocking reads on a connection of their own."""
        async with dedicated(self.conn) as send:
            yield Reader(self.inbox, send)

    async def aclose(self) -> None:
        """Close the connections (shielded; idempotent)."""
        await self.conn.aclose()
