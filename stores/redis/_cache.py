"""``RedisCache``: task results cached in Redis (LangGraph's ``RedisCache``).

One string key per entry, ``{<prefix>}:<namespace>:<key>``, with Redis' own
expiry for the TTL. Every key shares the ``{prefix}`` hash tag, so one MGET
reads a batch on Redis Cluster too. Namespace labels are percent-encoded,
so clearing one namespace (SCAN + UNLINK on its pattern) never touches
another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import final
from urllib.parse import quote

from stores._cache import BaseCache, CacheNamespace, FullKey

from ._connection import RedisConnection, translate_errors
from ._pipeline import run

_UNLINK_BATCH = 500


def _label(namespace: CacheNamespace) -> str:
    return "/".join(quote(part, safe="") for part in namespace)


@final
class RedisCache(BaseCache):
    """A task-result cache in Redis: ``entrypoint(cache=RedisCache(url))``.

    ``url`` as for ``RedisSaver`` (None: ``REDIS_URL``, else the embedded
    server). Runs on asyncio and trio, like every Redis class here. Raises
    StoreUnavailableError when Redis cannot be reached.
    """

    def __init__(
        self, url: str | None = None, *, prefix: str = "actorgraph:cache"
    ) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(
                f"prefix must be non-empty and without braces, got {prefix!r}"
            )
        self._conn = RedisConnection(url, name="RedisCache")
        self._tag = "{" + prefix + "}"

    def _key(self, namespace: CacheNamespace, key: str) -> str:
        return f"{self._tag}:{_label(namespace)}:{key}"

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        """The cached values of ``keys`` that are present (Redis drops expired ones)."""
        wanted = list(keys)
        if not wanted:
            return {}
        with translate_errors(self._conn, "cache read"):
            client = await self._conn.client()
            (values,) = await run(
                client, [("MGET", *(self._key(ns, k) for ns, k in wanted))]
            )
        return {
            k: v if isinstance(v, bytes) else v.encode()  # a str from decode_responses
            for k, v in zip(wanted, values, strict=True)
            if v is not None
        }

    async def aset(self, pairs: Mapping[FullKey, tuple[bytes, int | None]]) -> None:
        """Store each ``key: (value, ttl_seconds or None)`` in one pipeline."""
        if not pairs:
            return
        with translate_errors(self._conn, "cache write"):
            client = await self._conn.client()
            await run(
                client,
                [
                    ("SET", self._key(ns, key), value, *(("EX", ttl) if ttl else ()))
                    for (ns, key), (value, ttl) in pairs.items()
                ],
            )

    async def aclear(self, namespaces: Sequence[CacheNamespace] | None = None) -> None:
        """Delete the entries of ``namespaces`` (every entry of this prefix when None)."""
        patterns = (
            [f"{self._tag}:*"]
            if namespaces is None
            else [f"{self._tag}:{_label(tuple(ns))}:*" for ns in namespaces]
        )
        with translate_errors(self._conn, "cache clear"):
            client = await self._conn.client()
            for pattern in patterns:
                cursor: bytes | int = 0
                while True:
                    ((cursor, keys),) = await run(
                        client,
                        [("SCAN", cursor, "MATCH", pattern, "COUNT", _UNLINK_BATCH)],
                    )
                    if keys:
                        await run(client, [("UNLINK", *keys)])
                    if int(cursor) == 0:
                        break

    async def aclose(self) -> None:
        """Close the connection."""
        await self._conn.aclose()
