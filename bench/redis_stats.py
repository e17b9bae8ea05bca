"""What a run costs Redis: INFO deltas, and round trips counted in this process.

- **commands**: the delta of the summed ``calls`` of ``INFO commandstats``
  (every command Redis executed, from any client, inside MULTI or not), less
  the one INFO this module issues between two snapshots. Run the bench
  against a Redis nobody else is using.
- **round trips**: every write of a request to a socket by a Redis
  connection in this process: one per plain command, one per pipeline or
  transaction however many commands it holds. Counted by wrapping
  ``send_packed_command`` on redis-py's connection classes (LangGraph, sync
  or asyncio) and ``roundtrip`` on our transport's connection
  (``stores/redis/_transport.py``), without touching either. ``None`` when
  Redis executed commands but no connection of this process sent any (a
  client that bypasses both).
- **server reads**: the delta of ``INFO stats total_reads_processed``, the
  socket reads the server handled (less the one INFO): about one per request
  received, a cross-check on round trips that needs no client cooperation
  (a request larger than 16 KB takes more than one read).
- **memory**: the delta of ``INFO memory used_memory``; **Redis CPU**: the
  delta of ``used_cpu_user + used_cpu_sys`` (the server's own process).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio.connection as _aconn
import redis.connection as _conn

_sent = 0


def _count_sync(fn: Any) -> Any:
    @functools.wraps(fn)
    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _sent
        _sent += 1
        return fn(self, *args, **kwargs)

    return counted


def _count_async(fn: Any) -> Any:
    @functools.wraps(fn)
    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _sent
        _sent += 1
        return await fn(self, *args, **kwargs)

    return counted


def install_round_trip_counter() -> None:
    """Wrap redis-py's send methods and our transport's once per process (idempotent)."""
    from stores.redis._transport import Connection

    for cls, wrap, name in (
        (_conn.AbstractConnection, _count_sync, "send_packed_command"),
        (_aconn.AbstractConnection, _count_async, "send_packed_command"),
        (Connection, _count_async, "roundtrip"),
    ):
        method = getattr(cls, name)
        if not getattr(method, "_bench_counted", False):
            counted = wrap(method)
            counted._bench_counted = True
            setattr(cls, name, counted)


@dataclass(frozen=True)
class Snapshot:
    commands: dict[str, int]
    sent: int
    used_memory: int
    cpu_s: float
    reads: int


class RedisStats:
    """Takes INFO snapshots of the Redis at ``url`` over its own sync connection."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True)

    def close(self) -> None:
        self._client.close()

    def _info(self, sent: int) -> Snapshot:
        info = self._client.info("everything")
        commands = {
            k.removeprefix("cmdstat_"): int(v["calls"])
            for k, v in info.items()
            if k.startswith("cmdstat_")
        }
        cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        reads = int(info.get("total_reads_processed", 0))
        return Snapshot(commands, sent, int(info["used_memory"]), cpu, reads)

    def before(self) -> Snapshot:
        """Snapshot at the start of the measured phase (INFO first, then the counter)."""
        snap = self._info(0)
        return Snapshot(snap.commands, _sent, snap.used_memory, snap.cpu_s, snap.reads)

    def after(self) -> Snapshot:
        """Snapshot at its end (the counter first, so neither INFO is counted as a round trip)."""
        return self._info(_sent)


def per_turn(a: Snapshot, b: Snapshot, turns: int) -> dict[str, Any]:
    """The report's Redis fields, per turn, from two snapshots."""
    calls = {k: n - a.commands.get(k, 0) for k, n in b.commands.items()}
    calls["info"] = calls.get("info", 0) - 1  # the `before` snapshot's own INFO
    calls = {k: n for k, n in calls.items() if n > 0}
    total = sum(calls.values())
    sent = b.sent - a.sent
    n = max(turns, 1)
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
    return {
        "redis_cmds_per_turn": total / n,
        "redis_round_trips_per_turn": sent / n if sent or not total else None,
        # Server side: socket reads the server processed, less the one INFO.
        # About one per request the server received, whoever sent it.
        "redis_reads_per_turn": (b.reads - a.reads - 1) / n if b.reads else None,
        "redis_mem_bytes_per_turn": (b.used_memory - a.used_memory) / n,
        "redis_cpu_ms_per_turn": (b.cpu_s - a.cpu_s) * 1000 / n,
        "redis_top_cmds_per_turn": {k: round(v / n, 2) for k, v in top},
    }
