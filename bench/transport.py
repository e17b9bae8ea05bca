"""``python -m bench.transport URL``: the Redis transport alone, ours against redis-py's.

On one connection: N sequential GET round trips, then N/10 pipelines of 100
HSETs; one JSON line per path with round trips/s, commands/s and CPU
microseconds per operation. Paths: redis-py 8 + hiredis on asyncio the way
the stores used it before (pool checkout, ``send_packed_command``,
``read_response`` per reply), and our ``stores/redis/_transport`` on
asyncio and on trio. Wall-clock figures move with the machine's load; for
instruction counts run one path under callgrind with two values of
``--n`` and difference them (bench/NOTES.md, "The Redis transport").
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import anyio

PIPELINE = 100


PREFIX = ["bench:transport"]  # set by main


def _commands(kind: str) -> list[tuple[Any, ...]]:
    if kind == "get":
        return [("GET", f"{PREFIX[0]}:k")]
    return [("HSET", f"{PREFIX[0]}:h{i}", "f", "v") for i in range(PIPELINE)]


async def _ours(url: str, n: int, kind: str) -> None:
    from stores.redis._pipeline import send
    from stores.redis._transport import Address, Client, Counters

    client = Client(Address(url), Counters())
    commands = _commands(kind)
    try:
        for _ in range(n):
            await send(client, commands)
    finally:
        await client.aclose()


async def _redis_py(url: str, n: int, kind: str) -> None:
    from redis.asyncio import Redis

    from stores.redis._wire import pack_commands

    client = Redis.from_url(url, protocol=2)
    pool = client.connection_pool
    commands = _commands(kind)
    try:
        for _ in range(n):
            connection = await pool.get_connection()
            try:
                await connection.send_packed_command(pack_commands(commands))
                for _ in commands:
                    await connection.read_response()
            finally:
                await pool.release(connection)
    finally:
        await client.aclose()


PATHS = {
    "redis-py+hiredis asyncio": (_redis_py, "asyncio"),
    "ours asyncio": (_ours, "asyncio"),
    "ours trio": (_ours, "trio"),
}


def measure(path: str, url: str, n: int, kind: str) -> dict[str, Any]:
    """Run one path (a fresh event loop) and time it."""
    fn, backend = PATHS[path]
    anyio.run(fn, url, 1, kind, backend=backend)  # connect, import: not timed
    cpu, wall = time.process_time(), time.perf_counter()
    anyio.run(fn, url, n, kind, backend=backend)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    per = n * (PIPELINE if kind == "pipeline" else 1)
    return {
        "path": path,
        "kind": kind,
        "n": n,
        "per_s": per / wall,
        "cpu_us": cpu / per * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="a Redis url (nothing else should be using it)")
    p.add_argument("--n", type=int, default=3000, help="round trips per path")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--paths", default=",".join(PATHS), help="comma-separated")
    p.add_argument("--kinds", default="get,pipeline", help="get, pipeline")
    p.add_argument("--prefix", default=PREFIX[0], help="of the keys it writes")
    args = p.parse_args(argv)
    PREFIX[0] = args.prefix
    for _ in range(args.repeat):
        for kind in args.kinds.split(","):
            for path in args.paths.split(","):
                n = args.n if kind == "get" else max(1, args.n // 10)
                print(json.dumps(measure(path, args.url, n, kind)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
