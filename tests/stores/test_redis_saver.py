"""RedisSaver: the checkpointer contract on Redis, plus what only Redis has to show.

Fencing between two writers, one round trip per call, TTL and a hash tag
on every key of a thread, nothing left after a delete, corrupt bytes,
a restarted Redis (AOF) and a Redis that is down.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest
from redis.crc import key_slot

from stores._checkpoint import (
    Checkpoint,
    CheckpointSaver,
    ThreadState,
)
from stores._errors import (
    CheckpointConflictError,
    CorruptCheckpointError,
    StoreUnavailableError,
)
from stores.redis._connection import RedisConnection
from stores.redis._embedded import EmbeddedRedis, free_port
from stores.redis._entries import Top
from stores.redis._saver import RedisSaver, escape_tag
from stores.redis._streams import ThreadStreams
from tests.redis_server import admin, keys_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

from .test_memory_saver import ckpt, history_entry, rec, run

pytestmark = pytest.mark.redis


async def committed(
    saver: RedisSaver, thread_id: str, versions: int, start: int = 1
) -> None:
    for v in range(start, versions + 1):
        await saver.acommit(
            thread_id, ckpt(v, thread_id=thread_id), expected_version=v - 1
        )


def evalsha_calls() -> int:
    stats = admin().info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


@pytest.fixture
def saver(make_saver: Callable[..., RedisSaver]) -> RedisSaver:
    return make_saver()


def test_is_a_checkpoint_saver() -> None:
    saver: CheckpointSaver = RedisSaver("redis://127.0.0.1:1/0")
    assert callable(saver.acommit)


async def test_unknown_thread_is_empty(saver: RedisSaver) -> None:
    assert await saver.aload("t") == ThreadState()
    assert await saver.alist("t") == []
    assert await saver.aget("t", "c0001") is None


async def test_run_records_then_commit(saver: RedisSaver, redis_prefix: str) -> None:
    await saver.abegin_run("t", run("r1"))
    await saver.arecord("t", "r1", rec("0:fetch"))
    await saver.arecord("t", "r1", rec("1:embed"))
    await saver.arecord("t", "r1", rec("2:ask", kind="interrupt"))
    state = await saver.aload("t")
    assert state.run == run("r1")
    assert [r.task_id for r in state.records] == ["0:fetch", "1:embed", "2:ask"]
    assert state.latest is None
    await saver.acommit("t", ckpt(1, metadata={"run_id": "r1"}), expected_version=0)
    state = await saver.aload("t")
    assert state.latest == ckpt(1, metadata={"run_id": "r1"})
    assert (state.run, state.records) == (None, [])
    assert keys_of(redis_prefix) == [
        f"{redis_prefix}:{{t}}".encode()
    ]  # records list gone


async def test_begin_run_is_fenced_on_base_version(saver: RedisSaver) -> None:
    await committed(saver, "t", 2)
    with pytest.raises(
        CheckpointConflictError,
        match="at version 2, but run 'r' started from version 1; reload",
    ):
        await saver.abegin_run("t", run("r", base_version=1))
    assert (await saver.aload("t")).run is None
    await saver.abegin_run("t", run("r", base_version=2))
    assert (await saver.aload("t")).run == run("r", base_version=2)


async def test_begin_run_replaces_older_run_and_record_needs_it(
    saver: RedisSaver,
) -> None:
    with pytest.raises(CheckpointConflictError, match="pending: None"):
        await saver.arecord("t", "old", rec("0:a"))
    await saver.abegin_run("t", run("old"))
    await saver.arecord("t", "old", rec("0:a"))
    await saver.abegin_run("t", run("new"))
    assert (await saver.aload("t")).records == []
    with pytest.raises(
        CheckpointConflictError, match=r"'old' is not the pending run.*pending: 'new'"
    ):
        await saver.arecord("t", "old", rec("1:b"))
    assert (await saver.aload("t")).records == []


async def test_commit_is_fenced_and_writes_nothing_on_conflict(
    saver: RedisSaver,
) -> None:
    await committed(saver, "t", 1)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    with pytest.raises(CheckpointConflictError, match=r"at version 1, not 2.*retry"):
        await saver.acommit("t", ckpt(3), expected_version=2)
    state = await saver.aload("t")
    assert (state.version, state.run is not None, len(state.records)) == (1, True, 1)
    assert [c.version for c in await saver.alist("t")] == [1]


@pytest.mark.parametrize(
    ("checkpoint", "match"),
    [
        (ckpt(3), "must be expected_version \\+ 1 = 2, got 3"),
        (ckpt(2, thread_id="other"), "is for thread 'other'"),
        # (a duplicate checkpoint id is not checked: that would cost a read
        # per commit, and the runtime makes ids unique)
    ],
)
async def test_commit_rejects_malformed_checkpoints(
    saver: RedisSaver, checkpoint: Checkpoint, match: str
) -> None:
    await committed(saver, "t", 1)
    with pytest.raises(ValueError, match=match):
        await saver.acommit("t", checkpoint, expected_version=1)
    assert (await saver.aload("t")).version == 1


async def test_two_writers_on_one_version_exactly_one_wins(
    make_saver: Callable[..., RedisSaver],
) -> None:
    writers = [make_saver() for _ in range(2)]  # two clients, two connection pools
    await committed(writers[0], "t", 3)
    outcomes: dict[str, str] = {}

    async def attempt(saver: RedisSaver, name: str) -> None:
        try:
            await saver.acommit("t", ckpt(4, checkpoint_id=name), expected_version=3)
            outcomes[name] = "won"
        except CheckpointConflictError:
            outcomes[name] = "lost"

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(attempt, writers[i % 2], f"w{i}")
    assert sorted(outcomes.values()) == ["lost"] * 7 + ["won"]
    (winner,) = [name for name, o in outcomes.items() if o == "won"]
    latest = (await writers[1].aload("t")).latest
    assert latest is not None
    assert latest.checkpoint_id == winner
    assert [c.version for c in await writers[0].alist("t")] == [4, 3, 2, 1]


async def test_a_retried_commit_of_the_same_checkpoint_succeeds(
    saver: RedisSaver,
) -> None:
    await saver.acommit("t", ckpt(1), expected_version=0)
    await saver.acommit(
        "t", ckpt(1), expected_version=0
    )  # e.g. resent after a dropped reply
    with pytest.raises(CheckpointConflictError):
        await saver.acommit("t", ckpt(1, checkpoint_id="other"), expected_version=0)
    assert [c.checkpoint_id for c in await saver.alist("t")] == ["c0001"]


async def test_discard_run_only_drops_the_named_run(
    saver: RedisSaver, redis_prefix: str
) -> None:
    await saver.abegin_run("t", run("r"))
    await saver.arecord("t", "r", rec("0:a"))
    await saver.adiscard_run("t", "other")
    assert (await saver.aload("t")).run is not None
    await saver.adiscard_run("t", "r")
    assert await saver.aload("t") == ThreadState()
    assert keys_of(redis_prefix) == []  # a thread with no checkpoint leaves nothing
    await saver.adiscard_run("never", "r")


async def test_history_is_newest_first_with_limit_and_before(saver: RedisSaver) -> None:
    await committed(saver, "t", 5)
    assert [c.version for c in await saver.alist("t")] == [5, 4, 3, 2, 1]
    assert [c.version for c in await saver.alist("t", limit=2)] == [5, 4]
    assert [c.version for c in await saver.alist("t", before=4)] == [3, 2, 1]
    assert [c.version for c in await saver.alist("t", before=4, limit=1)] == [3]
    assert await saver.alist("t", before=1) == []
    assert await saver.alist("t", limit=0) == []
    assert await saver.aget("t", "c0003") == history_entry(ckpt(3))
    assert await saver.aget("t", "missing") is None
    with pytest.raises(ValueError, match="limit"):
        await saver.alist("t", limit=-1)


async def test_long_history_is_read_in_one_round_trip(saver: RedisSaver) -> None:
    await committed(saver, "t", 1203)
    before = saver.round_trips
    history = await saver.alist("t")
    assert saver.round_trips - before == 1
    assert [c.version for c in history] == list(range(1203, 0, -1))
    assert [c.version for c in await saver.alist("t", before=700, limit=600)] == list(
        range(699, 99, -1)
    )


async def test_delete_thread_removes_every_key_and_only_that_thread(
    saver: RedisSaver, redis_prefix: str
) -> None:
    await committed(saver, "t", 2)
    await committed(saver, "keep", 1)
    await saver.abegin_run("t", run("r", base_version=2))
    await saver.arecord("t", "r", rec("0:a"))
    assert len(keys_of(redis_prefix)) == 2
    await saver.adelete_thread("t")
    assert keys_of(redis_prefix) == [f"{redis_prefix}:{{keep}}".encode()]
    assert await saver.aload("t") == ThreadState()
    with pytest.raises(CheckpointConflictError):
        await saver.arecord("t", "r", rec("1:b"))
    await saver.acommit("t", ckpt(1), expected_version=0)
    assert (await saver.aload("keep")).version == 1


@pytest.mark.parametrize(
    "thread_id", ["plain", "a{b}c", "{x}", "}{", "50%{7D}", "sp ace:{é}"]
)
async def test_every_key_of_a_thread_shares_one_hash_tag(
    saver: RedisSaver, redis_prefix: str, thread_id: str
) -> None:
    await committed(saver, thread_id, 1)
    await saver.abegin_run(thread_id, run("r", base_version=1))
    await saver.arecord(thread_id, "r", rec("0:a"))
    keys = [k.decode() for k in keys_of(redis_prefix)]
    assert keys == [saver.thread_key(thread_id)]  # records live in the thread's stream
    for key in keys:
        tag = key[key.index("{") + 1 : key.index("}")]
        assert tag == escape_tag(thread_id)
        assert "{" not in tag
    assert len({key_slot(k.encode()) for k in keys}) == 1
    other = escape_tag(thread_id + "x")
    assert other != escape_tag(thread_id)
    assert (await saver.aload(thread_id)).version == 1


async def test_ttl_is_set_on_every_key_of_the_thread(
    make_saver: Callable[..., RedisSaver], redis_prefix: str
) -> None:
    saver = make_saver(ttl=10)
    await committed(saver, "t", 1)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    client = admin()
    keys = keys_of(redis_prefix)
    assert len(keys) == 1
    for key in keys:
        assert 9 * 60_000 < client.pttl(key) <= 10 * 60_000
        client.pexpire(key, 1000)
    await saver.aload("t")  # activation refreshes it
    assert all(client.pttl(key) > 9 * 60_000 for key in keys)
    await saver.acommit("t", ckpt(2), expected_version=1)
    assert [client.pttl(k) > 9 * 60_000 for k in keys_of(redis_prefix)] == [True]


async def test_ttl_without_refresh_on_read(
    make_saver: Callable[..., RedisSaver], redis_prefix: str
) -> None:
    saver = make_saver(ttl={"default_ttl": 10, "refresh_on_read": False})
    await committed(saver, "t", 1)
    (key,) = keys_of(redis_prefix)
    admin().pexpire(key, 5000)
    await saver.aload("t")
    assert admin().pttl(key) <= 5000


async def test_no_ttl_means_keys_persist(saver: RedisSaver, redis_prefix: str) -> None:
    await committed(saver, "t", 1)
    assert [admin().pttl(k) for k in keys_of(redis_prefix)] == [-1]


async def test_each_call_is_one_round_trip_and_no_script(saver: RedisSaver) -> None:
    await saver.aload("t")  # the thread's newest entry is now known
    await saver.abegin_run("t", run("r"))
    calls = [
        saver.arecord("t", "r", rec("0:a")),
        saver.aload("t"),
        saver.acommit("t", ckpt(1), expected_version=0),
        saver.aload("t"),
        saver.alist("t"),
        saver.aget("t", "c0001"),
    ]
    for call in calls:
        trips, scripts = saver.round_trips, evalsha_calls()
        await call
        assert (saver.round_trips - trips, evalsha_calls() - scripts) == (1, 0)


def server_commands() -> int:
    """Commands Redis ran so far (commandstats counts those inside scripts too)."""
    stats = admin().info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


async def test_a_commit_and_a_record_are_one_command_in_redis(
    saver: RedisSaver,
) -> None:
    assert (await saver.aload("t")) == ThreadState()
    for call in [
        saver.acommit("t", ckpt(1), expected_version=0),
        saver.arecord("t", "r", rec("0:a"), begin=run("r", base_version=1)),
        saver.arecord("t", "r", rec("1:b")),
        saver.acommit("t", ckpt(2), expected_version=1),
        saver.aload("t"),
    ]:
        before = server_commands()
        await call
        assert server_commands() - before == 1  # XADD (XREVRANGE for the load)
    assert (await saver.aload("t")).latest == ckpt(2)


async def test_a_commit_the_saver_cannot_vouch_for_reads_the_thread_first(
    make_saver: Callable[..., RedisSaver],
) -> None:
    first, second = make_saver(), make_saver()
    await committed(first, "t", 1)
    before = server_commands()
    await second.acommit("t", ckpt(2), expected_version=1)  # never loaded "t"
    assert server_commands() - before == 2  # XREVRANGE COUNT 1, XADD
    with pytest.raises(CheckpointConflictError, match="at version 2, not 1"):
        await first.acommit("t", ckpt(2, checkpoint_id="late"), expected_version=1)
    with pytest.raises(CheckpointConflictError, match="at version 2, not 4"):
        await first.acommit("t", ckpt(5), expected_version=4)  # ahead of Redis
    assert [c.version for c in await first.alist("t")] == [2, 1]


def messages(n: int) -> bytes:
    """A save as the runtime writes a conversation: a msgpack array."""
    return msgspec.msgpack.encode([f"message {i} " * 8 for i in range(n)])


async def commit_conversation(
    saver: RedisSaver, thread_id: str, turns: int, start: int = 0
) -> bytes:
    for v in range(start + 1, turns + 1):
        checkpoint = msgspec.structs.replace(
            ckpt(v, thread_id=thread_id),
            save=messages(2 * v),
            parent_id=f"c{v - 1:04}" if v > 1 else None,
        )
        await saver.acommit(thread_id, checkpoint, expected_version=v - 1)
    return messages(2 * turns)


async def test_a_conversation_stores_what_each_turn_appended(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")
    latest = await commit_conversation(saver, "t", 40)
    entries = admin().xrange(saver.thread_key("t"))
    assert len(entries) == 40
    whole = [e for e in entries if b"s" in e[1]]
    assert len(whole) == 1  # the first; every later one holds its two messages only
    tails = [e[1][b"d"] for e in entries if b"d" in e[1]]
    texts = msgspec.msgpack.decode(latest)
    assert (
        tails
        == [  # the two messages of each turn, without an array header
            msgspec.msgpack.encode(texts[2 * v - 2 : 2 * v])[1:] for v in range(2, 41)
        ]
    )
    trips = saver.round_trips
    state = await saver.aload("t")  # 40 entries: past the first page, one more read
    assert saver.round_trips - trips == 2
    assert state.latest is not None and state.latest.save == latest
    assert [c.save for c in await saver.alist("t")] == [b""] * 40


async def test_a_save_that_does_not_extend_the_previous_is_stored_whole(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")
    await commit_conversation(saver, "t", 2)
    replaced = msgspec.msgpack.encode(["summary"])
    checkpoint = msgspec.structs.replace(ckpt(3), save=replaced, parent_id="c0002")
    await saver.acommit("t", checkpoint, expected_version=2)
    assert b"s" in admin().xrange(saver.thread_key("t"))[-1][1]
    latest = (await saver.aload("t")).latest
    assert latest is not None and latest.save == replaced


async def test_a_commit_from_an_older_checkpoint_stores_its_save_whole(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")
    await commit_conversation(saver, "t", 2)
    # a fork from version 1 (time travel): its save extends c0001's, not the
    # latest's, so the saver may not store a tail against the latest
    fork = msgspec.structs.replace(ckpt(3), save=messages(6), parent_id="c0001")
    await saver.acommit("t", fork, expected_version=2)
    last = admin().xrange(saver.thread_key("t"))[-1][1]
    assert b"s" in last and b"d" not in last
    latest = (await saver.aload("t")).latest
    assert latest is not None and latest.save == messages(6)


async def test_a_saver_that_loaded_the_thread_stores_only_the_tail(
    make_saver: Callable[..., RedisSaver],
) -> None:
    first, second = make_saver(), make_saver()
    await first.aload("t")
    await commit_conversation(first, "t", 2)
    await second.aload("t")  # remembers the latest save from the load
    step = msgspec.structs.replace(ckpt(3), save=messages(6), parent_id="c0002")
    await second.acommit("t", step, expected_version=2)
    last = admin().xrange(second.thread_key("t"))[-1][1]
    assert b"d" in last and b"s" not in last
    latest = (await first.aload("t")).latest
    assert latest is not None and latest.save == messages(6)


def test_remembered_saves_are_bounded_in_bytes() -> None:
    streams = ThreadStreams(
        RedisConnection("redis://127.0.0.1:1"), "0", max_save_bytes=100
    )
    save = msgspec.structs.replace(ckpt(1), save=b"x" * 40)
    for key in "abc":
        streams.set_top(key, Top(1, 0), 0, save)
    # 120 bytes do not fit in 100: the oldest thread is forgotten
    assert [streams.vouched(k) is not None for k in "abc"] == [False, True, True]
    streams.set_top(
        "huge", Top(1, 0), 0, msgspec.structs.replace(save, save=b"x" * 101)
    )
    huge = streams.vouched("huge")
    assert huge is not None and huge.latest is None  # too big to remember at all
    assert streams.vouched("b") is not None
    streams.forget("b")
    streams.forget("c")
    streams.set_top("d", Top(1, 0), 0, msgspec.structs.replace(save, save=b"x" * 100))
    assert streams.vouched("d") is not None and streams.vouched("huge") is not None


async def test_after_a_reconnect_the_next_commit_stores_its_save_whole(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")
    await commit_conversation(saver, "t", 2)
    # a restarted Redis may have lost writes: what the saver saw before the
    # reconnect is read again, and the save does not lean on it
    admin().client_kill_filter(_type="normal", skipme=True)
    with contextlib.suppress(StoreUnavailableError):
        await saver.aload("other")  # the first call after the kill may see it
    await commit_conversation(saver, "t", 3, start=2)
    last = admin().xrange(saver.thread_key("t"))[-1][1]
    assert b"s" in last and b"d" not in last
    latest = (await saver.aload("t")).latest
    assert latest is not None and latest.save == messages(6)


async def test_a_broken_chain_of_appended_saves_is_a_corrupt_checkpoint(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")
    await commit_conversation(saver, "t", 3)
    admin().xdel(saver.thread_key("t"), "2-0")
    with pytest.raises(CorruptCheckpointError, match="stored as an append to 'c0002'"):
        await saver.aload("t")


async def test_a_commit_supersedes_the_pending_run_and_its_records(
    saver: RedisSaver,
) -> None:
    await saver.abegin_run("t", run("r"))
    await saver.arecord("t", "r", rec("0:a"))
    await saver.acommit("t", ckpt(1), expected_version=0)
    state = await saver.aload("t")
    assert (state.run, state.records) == (None, [])
    with pytest.raises(CheckpointConflictError, match="pending: None"):
        await saver.arecord("t", "r", rec("1:b"))


async def test_a_discarded_run_on_a_checkpointed_thread_is_gone(
    saver: RedisSaver,
) -> None:
    await committed(saver, "t", 1)
    await saver.arecord("t", "r", rec("0:a"), begin=run("r", base_version=1))
    await saver.adiscard_run("t", "r")
    assert await saver.aload("t") == ThreadState(latest=ckpt(1))
    with pytest.raises(CheckpointConflictError, match="pending: None"):
        await saver.arecord("t", "r", rec("1:b"))
    await saver.abegin_run("t", run("next", base_version=1))
    assert (await saver.aload("t")).run == run("next", base_version=1)


@pytest.mark.parametrize("part", ["checkpoint", "run", "record"])
async def test_corrupt_bytes_raise_corrupt_checkpoint_error(
    saver: RedisSaver, part: str
) -> None:
    await saver.acommit("t", ckpt(1), expected_version=0)
    await saver.abegin_run("t", run("r", base_version=1))
    await saver.arecord("t", "r", rec("0:a"))
    key = saver.thread_key("t")
    if part == "checkpoint":
        admin().xadd(key, {"c": b"\xc1not msgpack", "s": b""}, id="2-0")
    elif part == "run":
        admin().xadd(key, {"r": "r2", "run": b"\x93\x01\x02\x03"}, id="1-9")
    else:
        admin().xadd(key, {"r": "r", "t": b"\x81\xa4kind\xa3bad"}, id="1-9")
    with pytest.raises(CorruptCheckpointError, match="cannot decode"):
        await saver.aload("t")


@pytest.mark.parametrize("thread_id", ["", None, 3])
async def test_bad_thread_ids_are_rejected(saver: RedisSaver, thread_id: Any) -> None:
    with pytest.raises(ValueError, match="thread_id must be a non-empty string"):
        await saver.aload(thread_id)
    with pytest.raises(ValueError, match="thread_id must be a non-empty string"):
        await saver.abegin_run(thread_id, run("r"))


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="prefix"):
        RedisSaver("redis://127.0.0.1:1/0", prefix="a{b")
    with pytest.raises(ValueError, match="ttl"):
        RedisSaver("redis://127.0.0.1:1/0", ttl=-1)


async def test_closed_saver_refuses_calls(
    make_saver: Callable[..., RedisSaver],
) -> None:
    async with make_saver() as saver:
        await saver.aload("t")
    with pytest.raises(RuntimeError, match="closed"):
        await saver.aload("t")


async def test_redis_down_fails_fast_with_store_unavailable() -> None:
    saver = RedisSaver(f"redis://127.0.0.1:{free_port()}/0")
    with (
        anyio.fail_after(10),
        pytest.raises(StoreUnavailableError, match="unreachable") as info,
    ):
        await saver.aload("t")
    assert "REDIS_URL" in str(info.value)
    await saver.aclose()


async def test_next_call_works_after_redis_restarts_with_aof(tmp_path: Path) -> None:
    port = free_port()
    with EmbeddedRedis(data_dir=tmp_path, port=port) as server:
        saver = RedisSaver(server.url)
        await committed(saver, "t", 1)
        await saver.abegin_run("t", run("r", base_version=1))
        await saver.arecord("t", "r", rec("0:a"))
    with anyio.fail_after(10), pytest.raises(StoreUnavailableError):
        await saver.aload("t")  # down: a clear error, no hang
    with EmbeddedRedis(data_dir=tmp_path, port=port):
        with anyio.fail_after(10):
            state = await saver.aload(
                "t"
            )  # the pooled connection is stale: it reconnects
        assert (state.version, [r.task_id for r in state.records]) == (1, ["0:a"])
        await saver.acommit("t", ckpt(2), expected_version=1)
        await saver.aclose()


async def test_cancelled_calls_leave_old_or_new_state_and_the_connection_usable(
    saver: RedisSaver,
) -> None:
    await saver.aload("t")  # scripts loaded: later calls are single round trips
    await saver.abegin_run("t", run("r"))
    for i in range(60):
        with anyio.move_on_after(0.0001 * (i % 6)):
            await saver.arecord("t", "r", rec(f"{i}:a"))
    ids = [r.task_id for r in (await saver.aload("t")).records]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids, key=lambda x: int(x.split(":")[0]))
    for i in range(30):
        version = (await saver.aload("t")).version
        with anyio.move_on_after(0.0001 * (i % 6)):
            await saver.acommit(
                "t", ckpt(version + 1, checkpoint_id=f"x{i}"), expected_version=version
            )
        after = (await saver.aload("t")).version
        assert after in (version, version + 1)
    history = await saver.alist("t")
    assert [c.version for c in history] == list(range(len(history), 0, -1))


async def test_cancelled_callers_never_stall_the_group_writer(
    saver: RedisSaver,
) -> None:
    # Callers cancelled while queued (or while handed the turn to lead) must
    # leave the queue and pass the turn on: every other caller still finishes.
    await saver.acommit("t", ckpt(1), expected_version=0)
    finished: list[int] = []

    async def load(i: int) -> None:
        with anyio.CancelScope() as scope:
            if i % 3 == 0:
                scope.cancel()  # cancelled at its first await: while queued
            await saver.aload("t")
            finished.append(i)

    with anyio.fail_after(10):
        for _ in range(5):
            finished.clear()
            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(load, i)
            # a cancelled caller that led its batch may still finish (its send
            # is shielded); every caller that was not cancelled must finish
            assert {i for i in range(60) if i % 3} <= set(finished)


async def test_a_limited_history_reads_about_that_many_entries(
    saver: RedisSaver,
) -> None:
    await committed(saver, "t", 300)
    await saver.arecord("t", "r", rec("0:a"), begin=run("r", base_version=300))
    for i in range(1, 40):  # task records between the newest checkpoint and now
        await saver.arecord("t", "r", rec(f"{i}:a"))
    trips = saver.round_trips
    assert [c.version for c in await saver.alist("t", limit=3)] == [300, 299, 298]
    assert saver.round_trips - trips == 2  # 11 entries are all records: read more
    trips = saver.round_trips
    assert [c.version for c in await saver.alist("t", before=100, limit=5)] == [
        99,
        98,
        97,
        96,
        95,
    ]
    assert saver.round_trips - trips == 1
    assert len(await saver.alist("t", limit=1000)) == 300


async def test_after_a_reconnect_an_append_reads_the_thread_again(
    saver: RedisSaver,
) -> None:
    await saver.arecord("t", "r", rec("0:a"), begin=run("r"))
    before = server_commands()
    await saver.arecord("t", "r", rec("1:b"))
    assert server_commands() - before == 1  # vouched for: the XADD alone
    saver._conn._counters.epoch += 1  # as a reconnect would
    before = server_commands()
    await saver.arecord("t", "r", rec("2:c"))
    assert server_commands() - before == 2  # XREVRANGE COUNT 1, then the XADD
    state = await saver.aload("t")
    assert [r.task_id for r in state.records] == ["0:a", "1:b", "2:c"]


async def test_one_more_pooled_connection_keeps_what_was_read(
    saver: RedisSaver,
) -> None:
    await saver.arecord("t", "r", rec("0:a"), begin=run("r"))
    client = await saver._conn.client()
    held = await client.acquire()  # the idle connection: the next call opens one more
    try:
        connects = client.connects
        before = server_commands()
        await saver.arecord("t", "r", rec("1:b"))
        assert client.connects == connects + 1  # a new connection, to the same server
        assert server_commands() - before == 1  # still vouched for: the XADD alone
    finally:
        await client.release(held)
    state = await saver.aload("t")
    assert [r.task_id for r in state.records] == ["0:a", "1:b"]


async def test_after_redis_restarts_without_its_data_nothing_read_before_is_trusted(
    tmp_path: Path,
) -> None:
    port = free_port()
    with EmbeddedRedis(data_dir=tmp_path / "a", port=port) as server:
        saver = RedisSaver(server.url)
        await saver.arecord("t", "r", rec("0:a"), begin=run("r"))
        await saver.arecord("t", "r", rec("1:b"))  # vouched for from here on
    with EmbeddedRedis(data_dir=tmp_path / "b", port=port):
        with anyio.fail_after(10), pytest.raises(CheckpointConflictError):
            await saver.arecord("t", "r", rec("2:c"))  # read again: no run
        assert await saver.aload("t") == ThreadState()
        await saver.aclose()
