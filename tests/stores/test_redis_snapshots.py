"""RedisSaver snapshots: loads read at most one snapshot plus the tails after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from bench._long_thread import (
    KINDS,
    Conversation,
    commit_thread,
    read_keys,
    write_thread,
)
from stores._errors import CheckpointConflictError
from stores.redis import _load
from stores.redis._saver import RedisSaver
from stores.redis._snapshots import INLINE_SAVE_BYTES
from tests.redis_server import admin

from .test_memory_saver import ckpt
from .test_redis_saver import commit_conversation, messages

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = pytest.mark.redis


async def test_a_long_thread_loads_from_its_snapshot_in_two_reads(
    make_saver: Callable[..., RedisSaver],
) -> None:
    writer = make_saver(snapshot_every=8)
    await writer.aload("t")
    latest = await commit_conversation(writer, "t", 100)
    snap = admin().hgetall(writer.thread_key("t") + ":snap")
    assert snap[b"v"] == b"97-0"  # the 8th tail after version 1: 9, 17, ..., 97
    fresh = make_saver(snapshot_every=8)
    trips = fresh.round_trips
    state = await fresh.aload("t")
    assert fresh.round_trips - trips == 2  # newest page, then snapshot + rest
    assert state.latest is not None and state.latest.save == latest
    assert [c.version for c in await fresh.alist("t")] == list(range(100, 0, -1))


Reads = list[tuple[str, Any]]
"""(command name, reply) of each read a load sent, in order."""


def log_reads(
    saver: RedisSaver,
    before: Callable[[tuple[Any, ...]], Awaitable[None]] | None = None,
) -> Reads:
    """Log what ``saver`` sends; ``before(command)`` runs before each is sent."""
    reads: Reads = []
    original = saver._streams.send_seen  # pyright: ignore[reportPrivateUsage]

    async def logged(what: str, command: tuple[Any, ...], **kw: Any) -> Any:
        if before is not None:
            await before(command)
        reply, seen = await original(what, command, **kw)
        reads.append((str(command[0]), reply))
        return reply, seen

    saver._streams.send_seen = logged  # type: ignore[method-assign]
    return reads


async def test_a_load_reads_fewer_entries_than_snapshot_every(
    make_saver: Callable[..., RedisSaver],
) -> None:
    writer = make_saver(snapshot_every=64)
    await writer.aload("t")
    latest = await commit_conversation(writer, "t", 1000)
    assert len(latest) > INLINE_SAVE_BYTES  # 2,000 messages: read by a plain HMGET
    fresh = make_saver(snapshot_every=64)
    reads = log_reads(fresh)
    state = await fresh.aload("t")
    assert state.latest is not None and state.latest.save == latest
    assert [name for name, _ in reads] == ["XREVRANGE", "EVALSHA", "HMGET"]
    (_, page), (_, rest), (_, whole) = reads
    assert rest[2] is None  # the save did not come through Lua
    assert (whole[0] == rest[0] == b"961-0" and whole[2] == rest[2]) or whole[2]
    assert len(page) + len(rest[3]) <= 64 + 1


async def test_a_short_snapshot_comes_with_the_entries(
    make_saver: Callable[..., RedisSaver],
) -> None:
    writer = make_saver(snapshot_every=16)
    await writer.aload("t")
    latest = await commit_conversation(writer, "t", 60)
    assert len(latest) < INLINE_SAVE_BYTES
    fresh = make_saver(snapshot_every=16)
    reads = log_reads(fresh)
    state = await fresh.aload("t")
    assert state.latest is not None and state.latest.save == latest
    assert [name for name, _ in reads] == ["XREVRANGE", "EVALSHA"]
    assert reads[1][1][2] is not None  # the snapshot's save, in the script's reply


async def test_a_snapshot_replaced_between_the_reads_starts_the_load_over(
    make_saver: Callable[..., RedisSaver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "INLINE_SAVE_BYTES", 0)  # every save: a plain HMGET
    writer = make_saver(snapshot_every=4)
    await writer.aload("t")
    await commit_conversation(writer, "t", 60)  # snapshot at 57, chain 3
    turns = [60]

    async def commit_first(command: tuple[Any, ...]) -> None:
        if command[0] == "HMGET" and turns[0] == 60:  # 61 is due: a new snapshot
            turns[0] = 61
            await commit_conversation(writer, "t", 61, start=60)

    fresh = make_saver(snapshot_every=4)
    reads = log_reads(fresh, commit_first)
    state = await fresh.aload("t")
    assert [name for name, _ in reads] == ["XREVRANGE", "EVALSHA", "HMGET"] * 2
    assert reads[1][1][0] == b"57-0" and reads[2][1][0] == b"61-0"
    assert state.latest is not None and state.latest.version == 61
    assert state.latest.save == messages(122)


async def test_a_load_that_keeps_losing_the_race_reads_on_without_the_snapshot(
    make_saver: Callable[..., RedisSaver], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "INLINE_SAVE_BYTES", 0)
    writer = make_saver(snapshot_every=4)
    await writer.aload("t")
    await commit_conversation(writer, "t", 60)
    turns = [60]

    async def commit_four(command: tuple[Any, ...]) -> None:
        if command[0] == "HMGET":  # four more turns: one of them writes a snapshot
            await commit_conversation(writer, "t", turns[0] + 4, start=turns[0])
            turns[0] += 4

    fresh = make_saver(snapshot_every=4)
    reads = log_reads(fresh, commit_four)
    state = await fresh.aload("t")
    names = [name for name, _ in reads]
    assert names[:9] == ["XREVRANGE", "EVALSHA", "HMGET"] * 3
    assert set(names[9:]) == {"XREVRANGE"}  # paging down to the whole save
    assert turns == [72]
    assert state.latest is not None and state.latest.version == 72
    assert state.latest.save == messages(144)


async def test_the_bench_builder_writes_what_commits_write(
    make_saver: Callable[..., RedisSaver], redis_prefix: str
) -> None:
    # bench.activation measures threads of 50,000 turns written by
    # bench/_long_thread.py, not by commits: the keys must be the same.
    for kind in KINDS:
        for every, turns in ((8, 40), (2, 5), (4, 4), (3, 1)):
            saver = make_saver(snapshot_every=every)
            conversation = Conversation(f"{kind}{every}", kind)
            committed = await commit_thread(saver, conversation, turns)
            key = f"{redis_prefix}:{{fast-{kind}{every}}}"
            written = write_thread(admin(), key, conversation, turns, every)
            assert written == committed
            real = read_keys(admin(), saver.thread_key(conversation.thread_id))
            assert read_keys(admin(), key) == real
            assert bool(real[1]) == (turns - 1 >= every)


async def test_a_thread_with_snapshots_loads_what_a_replay_loads(
    make_saver: Callable[..., RedisSaver],
) -> None:
    snapped, plain = make_saver(snapshot_every=3), make_saver(snapshot_every=10**9)
    for saver, thread in ((snapped, "a"), (plain, "b")):
        await saver.aload(thread)
        await commit_conversation(saver, thread, 77)
    a = await make_saver(snapshot_every=3).aload("a")
    b = await make_saver().aload("b")
    assert a.latest is not None and b.latest is not None
    assert a.latest.save == b.latest.save == messages(154)
    assert not admin().exists(plain.thread_key("b") + ":snap")


async def test_a_thread_written_before_snapshots_loads_and_gets_one(
    make_saver: Callable[..., RedisSaver],
) -> None:
    old = make_saver(snapshot_every=10**9)  # writes no snapshot: the old layout
    await old.aload("t")
    await commit_conversation(old, "t", 300)
    key = old.thread_key("t")
    assert not admin().exists(key + ":snap")
    new = make_saver(snapshot_every=16)
    state = await new.aload("t")
    assert state.latest is not None and state.latest.save == messages(600)
    await commit_conversation(new, "t", 301, start=300)  # chain 299 >= 16: due
    assert admin().hget(key + ":snap", "v") == b"301-0"
    state = await make_saver(snapshot_every=16).aload("t")
    assert state.latest is not None and state.latest.save == messages(602)


async def test_a_conflict_during_a_due_snapshot_writes_nothing(
    make_saver: Callable[..., RedisSaver],
) -> None:
    first, second = make_saver(snapshot_every=4), make_saver(snapshot_every=4)
    await first.aload("t")
    await commit_conversation(first, "t", 4)  # tails 2, 3, 4: the next is due
    await second.aload("t")
    key = first.thread_key("t")
    winner = msgspec.structs.replace(
        ckpt(5, checkpoint_id="won"), save=messages(10), parent_id="c0004"
    )
    await first.acommit("t", winner, expected_version=4)
    assert admin().hget(key + ":snap", "i") == b"won"
    loser = msgspec.structs.replace(
        ckpt(5, checkpoint_id="lost"), save=messages(12), parent_id="c0004"
    )
    with pytest.raises(CheckpointConflictError):
        await second.acommit("t", loser, expected_version=4)
    assert admin().hget(key + ":snap", "i") == b"won"
    state = await make_saver(snapshot_every=4).aload("t")
    assert state.latest is not None and state.latest.checkpoint_id == "won"


async def test_a_snapshot_left_by_an_older_stream_is_ignored(
    make_saver: Callable[..., RedisSaver],
) -> None:
    saver = make_saver(snapshot_every=4)
    await saver.aload("t")
    await commit_conversation(saver, "t", 60)
    key = saver.thread_key("t")
    admin().hset(key + ":snap", mapping={"v": "57-0", "i": "other", "s": b"\x90"})
    state = await make_saver(snapshot_every=4).aload("t")
    assert state.latest is not None and state.latest.save == messages(120)


async def test_delete_removes_the_snapshot(
    make_saver: Callable[..., RedisSaver],
) -> None:
    saver = make_saver(snapshot_every=2)
    await saver.aload("t")
    await commit_conversation(saver, "t", 5)
    key = saver.thread_key("t")
    assert admin().exists(key + ":snap")
    await saver.adelete_thread("t")
    assert not admin().exists(key, key + ":snap")


async def test_the_ttl_covers_the_snapshot(
    make_saver: Callable[..., RedisSaver],
) -> None:
    saver = make_saver(ttl=10, snapshot_every=2)
    await saver.aload("t")
    await commit_conversation(saver, "t", 3)
    key = saver.thread_key("t") + ":snap"
    assert 9 * 60_000 < admin().pttl(key) <= 10 * 60_000
    admin().pexpire(key, 1000)
    await commit_conversation(saver, "t", 4, start=3)  # a tail: refreshes both
    assert admin().pttl(key) > 9 * 60_000


@pytest.mark.parametrize("bad", [0, 1, -5, 2.5, "8", None, True])
def test_bad_snapshot_every_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="snapshot_every"):
        RedisSaver(snapshot_every=bad)  # type: ignore[arg-type]
