"""Activation of long threads: ``python -m bench.activation 100,1000,10000``.

Builds one conversation thread per length by committing through a
``RedisSaver`` directly (each turn appends two messages, as the bench
workload's ``add_messages`` does), then times ``aload`` on a fresh saver
(what a ThreadActor's activation sends): median of ``--repeat`` runs.
``--snapshot-every`` sets the saver's option (a huge value: no snapshots).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import anyio
import msgspec

from stores import Checkpoint
from stores.redis import RedisSaver

_TURN = msgspec.msgpack.encode(["message %06d, some words", "reply %06d, some words"])[
    1:
]


def _array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` elements (each 0 is one byte)."""
    return msgspec.msgpack.encode([0] * count)[:-count]


async def _build(saver: RedisSaver, thread_id: str, turns: int) -> None:
    await saver.adelete_thread(thread_id)
    await saver.aload(thread_id)
    body = b""
    for v in range(1, turns + 1):
        body += _TURN % (2 * v - 2, 2 * v - 1)
        save = _array_header(2 * v) + body
        checkpoint = Checkpoint(
            thread_id=thread_id,
            checkpoint_id=f"c{v}",
            version=v,
            parent_id=f"c{v - 1}" if v > 1 else None,
            created_at=0.0,
            value=b"",
            save=save,
        )
        await saver.acommit(thread_id, checkpoint, expected_version=v - 1)


async def _main(lengths: list[int], every: int, repeat: int) -> None:
    async with RedisSaver(prefix="actbench", snapshot_every=every) as saver:
        for turns in lengths:
            await _build(saver, f"t{turns}", turns)
    for turns in lengths:
        times: list[float] = []
        for _ in range(repeat):
            async with RedisSaver(prefix="actbench", snapshot_every=every) as fresh:
                t0 = time.perf_counter()
                state = await fresh.aload(f"t{turns}")
                times.append((time.perf_counter() - t0) * 1000)
                assert state.latest is not None
                assert state.version == turns
        print(
            f"turns={turns:>6}  snapshot_every={every}  aload median {statistics.median(times):.2f} ms"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.activation")
    parser.add_argument("lengths", help="comma-separated turn counts")
    parser.add_argument("--snapshot-every", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    anyio.run(_main, lengths, args.snapshot_every, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
