"""Activation of long threads: ``python -m bench.activation 100,1000,10000,50000``.

For each length N, writes one conversation thread of N turns (each turn
appends a question and its reply to a growing list, ``--kind messages``
as the runtime saves them, or ``text``: short strings) the way
``RedisSaver`` commits write it, pipelined (``bench/_long_thread.py``; a
thread of 2 * ``snapshot_every`` + 5 turns is first written both that way
and through ``RedisSaver.acommit``, and the keys must be identical). Then:

- **saver**: ``aload`` on a fresh ``RedisSaver`` (connected, nothing
  remembered), median of ``--repeat``; the bytes Redis sent for it (delta
  of ``INFO stats total_net_output_bytes``, less the INFO's own reply) and
  its round trips; the loaded checkpoint must be the one written.
- **runtime**: a fresh ``RedisSaver`` and a fresh ``Runtime`` (warmed by one
  turn on another thread), then one turn on the long thread: the time from
  ``ainvoke`` to the first line of the entrypoint's body, median of
  ``--repeat``. That is the thread actor's activation (its load, the
  pending run's records, if any) plus decoding ``previous``; the body
  checks ``previous`` is the whole history. Each such turn commits, so the
  thread grows by one per repeat (checked against the builder at the end).
  The difference to **saver** is mostly decoding ``previous`` (the value:
  it grows with the thread), with the actor's start and the turn's set-up.
``--snapshot-every`` sets the saver's option (a huge value: no snapshots).
``--kind window`` keeps only the last ``WINDOW_TURNS`` turns in ``previous``
(a bounded state, every save stored whole): its figures show what the
chain's length costs apart from the state's size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import anyio
import msgspec
import redis

from bench._long_thread import (
    KINDS,
    Conversation,
    Kind,
    commit_thread,
    read_keys,
    write_thread,
)
from bench._server import redis_url
from runtime import Runtime, entrypoint
from stores.redis import RedisSaver

_PREFIX = "actbench"


class _Bytes:
    """Bytes Redis sent to its clients, from ``INFO stats`` (less INFO's own reply)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        first = self._sent()
        self._info = self._sent() - first

    def _sent(self) -> int:
        return int(self._client.info("stats")["total_net_output_bytes"])

    def start(self) -> None:
        self._at = self._sent()

    def stop(self) -> int:
        return self._sent() - self._at - self._info


async def _check_builder(url: str, kind: Kind, every: int) -> int:
    # The pipelined builder must write what real commits write.
    turns = min(2 * every + 5, 300)
    client = redis.Redis.from_url(url)
    conversation = Conversation("check", kind)
    async with RedisSaver(url, prefix=_PREFIX + "ref", snapshot_every=every) as saver:
        committed = await commit_thread(saver, conversation, turns)
        real = read_keys(client, saver.thread_key("check"))
    written = write_thread(
        client, f"{_PREFIX}fast:{{check}}", conversation, turns, every
    )
    if written != committed or read_keys(client, f"{_PREFIX}fast:{{check}}") != real:
        raise SystemExit(
            f"bench/_long_thread.py wrote other keys than {turns} real commits: fix it"
        )
    client.close()
    return turns


async def _saver_load(
    url: str, conversation: Conversation, turns: int, every: int, counter: _Bytes
) -> tuple[float, int, int]:
    # One aload on a fresh saver: (ms, bytes sent by Redis, round trips).
    thread_id = conversation.thread_id
    async with RedisSaver(url, prefix=_PREFIX, snapshot_every=every) as fresh:
        trips = fresh.round_trips
        counter.start()
        t0 = time.perf_counter()
        state = await fresh.aload(thread_id)
        ms = (time.perf_counter() - t0) * 1000
        sent = counter.stop()
        trips = fresh.round_trips - trips
    if state.latest != conversation.checkpoint(turns, conversation.save(turns)):
        raise SystemExit(f"thread {thread_id!r}: aload returned another checkpoint")
    return ms, sent, trips


def _turn(conversation: Conversation, turn: int) -> tuple[Any, Any]:
    # Turn ``turn``'s question and reply as the entrypoint returns them.
    if conversation.kind != "text":
        return conversation.messages(turn)
    return tuple(msgspec.msgpack.decode(b"\x92" + conversation.tail(turn)))


async def _runtime_turn(
    url: str, conversation: Conversation, turn: int, every: int
) -> float:
    # A fresh Runtime: arrival of turn ``turn`` on the cold thread -> the
    # first line of its body (ms).
    started: list[float] = []
    async with RedisSaver(url, prefix=_PREFIX, snapshot_every=every) as saver:

        @entrypoint(checkpointer=saver)
        async def chat(turn: int, *, previous: Any = None) -> Any:
            started.append(time.perf_counter())
            history: list[Any] = previous or []
            held = 2 * (turn - conversation.first(turn - 1)) if turn > 1 else 0
            if len(history) != held or (
                history and history[-1] != _turn(conversation, turn - 1)[1]
            ):
                raise AssertionError(f"turn {turn} did not get the whole history")
            question, reply = _turn(conversation, turn)
            keep = 2 * (
                turn - conversation.first(turn) + 1
            )  # (a window drops the oldest)
            save = [*history, question, reply][-keep:]
            return entrypoint.final(value=reply, save=save)

        async with Runtime():
            await chat.ainvoke(1, {"configurable": {"thread_id": "warm"}})
            config = {"configurable": {"thread_id": conversation.thread_id}}
            t0 = time.perf_counter()
            await chat.ainvoke(turn, config)
        await saver.adelete_thread("warm")
    return (started[1] - t0) * 1000


class _Row(msgspec.Struct):
    turns: int
    save_bytes: int
    build_s: float
    load_ms: float
    sent: int
    trips: int
    runtime_ms: float | None


async def _measure(
    url: str, client: redis.Redis, conversation: Conversation, turns: int, args: Any
) -> _Row:
    every, repeat = args.snapshot_every, args.repeat
    key = RedisSaver(url, prefix=_PREFIX).thread_key(conversation.thread_id)
    t0 = time.perf_counter()
    save = write_thread(client, key, conversation, turns, every)
    build_s = time.perf_counter() - t0
    counter = _Bytes(client)
    loads = [
        await _saver_load(url, conversation, turns, every, counter)
        for _ in range(repeat)
    ]
    runtime_ms = None
    if not args.saver_only:
        runtime_ms = statistics.median(
            [
                await _runtime_turn(url, conversation, turns + 1 + i, every)
                for i in range(repeat)
            ]
        )
        async with RedisSaver(url, prefix=_PREFIX, snapshot_every=every) as saver:
            state = await saver.aload(conversation.thread_id)
        grown = turns + repeat
        if state.latest is None or state.latest.save != conversation.save(grown):
            raise SystemExit(f"after {repeat} runtime turns the thread is not as built")
    client.delete(key, key + ":snap")
    return _Row(
        turns=turns,
        save_bytes=len(save),
        build_s=build_s,
        load_ms=statistics.median(x[0] for x in loads),
        sent=int(statistics.median(x[1] for x in loads)),
        trips=max(x[2] for x in loads),
        runtime_ms=runtime_ms,
    )


def _table(rows: list[_Row], every: int, repeat: int, kind: str) -> str:
    lines = [
        f"kind={kind}, snapshot_every={every}, median of {repeat}",
        "| turns | save bytes | saver aload ms | bytes read | round trips "
        "| runtime activation ms | build s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        runtime = "-" if r.runtime_ms is None else f"{r.runtime_ms:.2f}"
        lines.append(
            f"| {r.turns:,} | {r.save_bytes:,} | {r.load_ms:.2f} | {r.sent:,} "
            f"| {r.trips} | {runtime} | {r.build_s:.2f} |"
        )
    return "\n".join(lines)


async def _main(url: str, lengths: list[int], args: Any) -> None:
    client = redis.Redis.from_url(url)
    kind: Kind = args.kind
    checked = await _check_builder(url, kind, args.snapshot_every)
    print(f"builder check: {checked} turns pipelined == {checked} real commits")
    rows: list[_Row] = []
    for turns in lengths:
        row = await _measure(url, client, Conversation(f"t{turns}", kind), turns, args)
        print(
            f"turns={turns:>6}  aload {row.load_ms:.2f} ms  runtime "
            f"{row.runtime_ms if row.runtime_ms is None else round(row.runtime_ms, 2)} ms",
            flush=True,
        )
        rows.append(row)
    client.close()
    print(_table(rows, args.snapshot_every, args.repeat, kind))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.activation")
    parser.add_argument("lengths", help="comma-separated turn counts")
    parser.add_argument("--snapshot-every", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--kind", choices=KINDS, default="messages")
    parser.add_argument(
        "--saver-only", action="store_true", help="skip the runtime activation"
    )
    parser.add_argument("--redis-url", help="default: REDIS_URL, else an embedded one")
    args = parser.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    if min(lengths) < 1 or args.repeat < 1:
        parser.error("turn counts and --repeat must be at least 1")
    with redis_url(args.redis_url) as (url, _):
        anyio.run(_main, url, lengths, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
