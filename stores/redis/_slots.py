"""Hash-slot routing of a saver's threads over a Redis Cluster's masters.

A ``RedisSaver(url, cluster=True)`` reads the slot map (``CLUSTER SLOTS``
on the node ``url`` names, or on any master it knows) and keeps one
``RedisConnection`` per master; every thread command goes to the master
of its key's slot (one hash tag per thread: its stream and its fence share
a slot). A ``MOVED`` reply (the slot was resharded) re-reads the map and
the command goes once more to the new master; an ``ASK`` (a slot being
migrated right now) is a clear error to retry. Nothing here blocks but
the reads of the map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final
from urllib.parse import urlsplit, urlunsplit

from ._cluster_io import call
from ._connection import RedisConnection

if TYPE_CHECKING:
    from collections.abc import Sequence

SLOTS: Final = 16384


def _crc16_table() -> list[int]:
    table: list[int] = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_TABLE: Final = _crc16_table()


def key_slot(key: bytes) -> int:
    """The Redis Cluster hash slot of ``key``: CRC16 (XMODEM) of its hash tag, mod 16384."""
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    crc = 0
    for byte in key:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc % SLOTS


def command_key(command: Sequence[Any]) -> str | bytes:
    """The key a saver's command acts on: the first key of EVALSHA, else its first argument."""
    return command[3] if command[0] == "EVALSHA" else command[1]


def _node_url(seed: str, host: str, port: int) -> str:
    parts = urlsplit(seed)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@final
class SlotMap:
    """Which master serves each hash slot, and a connection to each."""

    def __init__(self, seed: RedisConnection, seed_url: str) -> None:
        """An empty map: ``refresh`` reads it."""
        self._seed = seed
        self._seed_url = seed_url
        self._owners: list[RedisConnection] = []
        self._nodes: dict[tuple[str, int], RedisConnection] = {}
        self.version = 0
        """Bumped by each refresh (what was read from the old nodes is not vouched for)."""

    @property
    def ready(self) -> bool:
        """Whether the map was read."""
        return bool(self._owners)

    @property
    def nodes(self) -> list[RedisConnection]:
        """The connections to every master seen so far."""
        return list(self._nodes.values())

    def conn_for(self, key: str | bytes) -> RedisConnection:
        """The connection to the master of ``key``'s slot (the map must be ready)."""
        data = key.encode() if isinstance(key, str) else key
        return self._owners[key_slot(data)]

    async def refresh(self) -> None:
        """Read the slot map from the seed node, else from a known master.

        Raises:
            ValueError: if the cluster leaves hash slots unassigned.
            ReplyError: if the node is no cluster node (cluster support is off).
            RedisConnectionError: if no node answers.
        """
        sources = [self._seed, *self._nodes.values()]
        reply: Any = None
        for i, source in enumerate(sources):
            try:
                reply = await call(source, "CLUSTER", "SLOTS")
                break
            except Exception:
                if i == len(sources) - 1:
                    raise
        owners: list[RedisConnection | None] = [None] * SLOTS
        for start, end, master, *_ in reply:
            host, port = master[0].decode() or "127.0.0.1", int(master[1])
            conn = self._nodes.get((host, port))
            if conn is None:
                url = _node_url(self._seed_url, host, port)
                conn = self._nodes[(host, port)] = RedisConnection(
                    url, name="RedisSaver"
                )
            for slot in range(int(start), int(end) + 1):
                owners[slot] = conn
        missing = sum(1 for o in owners if o is None)
        if missing:
            raise ValueError(
                f"the Redis Cluster at {self._seed.location} leaves {missing} hash "
                "slots unassigned; assign every slot (CLUSTER ADDSLOTSRANGE)"
            )
        self._owners = [o for o in owners if o is not None]
        self.version += 1

    async def aclose(self) -> None:
        """Close every node's connection."""
        for node in self._nodes.values():
            await node.aclose()
