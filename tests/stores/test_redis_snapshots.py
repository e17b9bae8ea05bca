"""RedisSaver snapshots: loads read at most one snapshot plus the tails after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from stores._errors import CheckpointConflictError
from stores.redis._saver import RedisSaver
from tests.redis_server import admin

from .test_memory_saver import ckpt
from .test_redis_saver import commit_conversation, messages

if TYPE_CHECKING:
    from collections.abc import Callable

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


async def test_a_load_reads_fewer_entries_than_snapshot_every(
    make_saver: Callable[..., RedisSaver],
) -> None:
    writer = make_saver(snapshot_every=64)
    await writer.aload("t")
    latest = await commit_conversation(writer, "t", 1000)
    fresh = make_saver(snapshot_every=64)
    calls: list[int] = []
    original = fresh._streams.send_seen  # pyright: ignore[reportPrivateUsage]

    async def counting(what: str, command: tuple[Any, ...], **kw: Any) -> Any:
        reply, seen = await original(what, command, **kw)
        rest = reply[3] if command[0] == "EVALSHA" else reply
        calls.append(len(rest))
        return reply, seen

    fresh._streams.send_seen = counting  # type: ignore[method-assign]
    state = await fresh.aload("t")
    assert state.latest is not None and state.latest.save == latest
    assert len(calls) == 2 and sum(calls) <= 64 + 1


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
