"""Hash-slot routing of a saver's threads over a Redis Cluster's masters.

A ``RedisSaver(url, cluster=True)`` reads the slot map once (``CLUSTER
SLOTS`` on the node ``url`` names) and keeps one connection per master;
every thread command goes to the master of its key's slot (one hash tag
per thread: its stream, old records list and fence share a slot). The
map is static: a resharding needs a new saver (a MOVED reply surfaces as
StoreUnavailableError).
"""

from __future__ import annotations

from typing import final
from urllib.parse import urlsplit, urlunsplit

from redis.crc import key_slot

from ._cluster_io import call
from ._connection import RedisConnection

SLOTS = 16384


def _node_url(seed: str, host: str, port: int) -> str:
    parts = urlsplit(seed)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@final
class SlotMap:
    """Which connection serves each hash slot."""

    def __init__(
        self, owners: list[RedisConnection], nodes: list[RedisConnection]
    ) -> None:
        self._owners = owners
        self.nodes = nodes

    def conn_for(self, key: str) -> RedisConnection:
        return self._owners[key_slot(key.encode())]

    @classmethod
    async def discover(cls, seed: RedisConnection, seed_url: str) -> SlotMap:
        """Read the slot map from ``seed``; raises CommandError if it is no cluster node."""
        reply = await call(seed, "CLUSTER", "SLOTS")
        by_addr: dict[tuple[str, int], RedisConnection] = {}
        owners: list[RedisConnection | None] = [None] * SLOTS
        for start, end, master, *_ in reply:
            host, port = master[0].decode() or "127.0.0.1", int(master[1])
            conn = by_addr.get((host, port))
            if conn is None:
                conn = by_addr[(host, port)] = RedisConnection(
                    _node_url(seed_url, host, port), name="RedisSaver"
                )
            for slot in range(int(start), int(end) + 1):
                owners[slot] = conn
        missing = sum(1 for o in owners if o is None)
        if missing:
            raise ValueError(
                f"the Redis Cluster leaves {missing} hash slots unassigned"
            )
        return cls([o for o in owners if o is not None], list(by_addr.values()))
