"""RedisSaver(cluster=True) on a real 3-master Redis Cluster (the store stays standalone)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

from stores import (
    Checkpoint,
    CheckpointConflictError,
    FencedError,
    PendingRun,
    RedisSaver,
    TaskRecord,
)
from tests.redis_cluster import RedisCluster3

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster3]:
    cluster = RedisCluster3(Path(tmp_path_factory.mktemp("cluster"))).start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def saver(redis_cluster: RedisCluster3) -> AsyncIterator[RedisSaver]:
    prefix = f"cc{uuid.uuid4().hex[:8]}"  # each test (and host) its own threads
    async with RedisSaver(redis_cluster.url, prefix=prefix, cluster=True) as s:
        yield s


def ckpt(thread_id: str, version: int, save: bytes = b"s") -> Checkpoint:
    return Checkpoint(
        thread_id=thread_id,
        version=version,
        checkpoint_id=f"{version:08x}-{thread_id}",
        created_at=0.0,
        value=b"v%d" % version,
        save=save,
        metadata={"source": "loop"},
        parent_id=None if version == 1 else f"{version - 1:08x}-{thread_id}",
    )


async def test_threads_spread_over_the_masters_and_round_trip(
    saver: RedisSaver, redis_cluster: RedisCluster3
) -> None:
    threads = [f"spread-{i}" for i in range(30)]
    for t in threads:
        for v in (1, 2, 3):
            await saver.acommit(t, ckpt(t, v), expected_version=v - 1)
    for t in threads:
        state = await saver.aload(t)
        assert state.latest is not None and state.latest.version == 3
        assert [c.version for c in await saver.alist(t)] == [3, 2, 1]
        assert (await saver.aget(t, f"{2:08x}-{t}")) is not None
    assert all(
        n > 0 for n in redis_cluster.keys_per_node(f"{saver.prefix}:{{spread-*")
    ), "one master got nothing"


async def test_conflicts_records_and_discard_on_the_cluster(saver: RedisSaver) -> None:
    t = "contract"
    await saver.acommit(t, ckpt(t, 1), expected_version=0)
    other = msgspec.structs.replace(ckpt(t, 1), checkpoint_id="another")
    with pytest.raises(CheckpointConflictError):
        await saver.acommit(t, other, expected_version=0)
    run = PendingRun(run_id="r1", base_version=1, input=b"i", started_at=0.0)
    record = TaskRecord(task_id="0:a", name="a", kind="result", payload=b"p")
    await saver.arecord(t, "r1", record, begin=run)
    state = await saver.aload(t)
    assert (
        state.run is not None and state.run.run_id == "r1" and len(state.records) == 1
    )
    await saver.adiscard_run(t, "r1")
    assert (await saver.aload(t)).run is None
    await saver.adelete_thread(t)
    assert (await saver.aload(t)).latest is None


async def test_fenced_commits_on_the_cluster(saver: RedisSaver) -> None:
    t = "fenced"
    await saver.afence(t, 5)
    await saver.acommit(t, ckpt(t, 1), expected_version=0, fence=5)
    await saver.afence(t, 7)  # a newer owner
    with pytest.raises(FencedError):
        await saver.acommit(t, ckpt(t, 2), expected_version=1, fence=5)
    with pytest.raises(FencedError):
        await saver.afence(t, 6)
    await saver.acommit(t, ckpt(t, 2), expected_version=1, fence=7)


def test_a_cluster_saver_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="Redis Cluster"):
        RedisSaver(cluster=True)


async def test_a_moved_slot_is_followed(redis_cluster: RedisCluster3) -> None:
    # A fresh saver reads the slot map; then the slot of one thread moves to
    # another master: its first command gets MOVED, the map is read again
    # and the command goes to the new master.
    from stores.redis._slots import key_slot

    prefix = f"mv{uuid.uuid4().hex[:8]}"
    async with RedisSaver(redis_cluster.url, prefix=prefix, cluster=True) as saver:
        thread = f"moving-{uuid.uuid4().hex[:8]}"  # a slot not moved before
        slot = key_slot(saver.thread_key(thread).encode())
        redis_cluster.move_slot(slot)
        await saver.acommit(thread, ckpt(thread, 1), expected_version=0)
        state = await saver.aload(thread)
        assert state.latest is not None and state.latest.version == 1
        slots = saver._streams.slots  # pyright: ignore[reportPrivateUsage]
        assert slots is not None and slots.version == 2  # read again after MOVED
    assert sum(redis_cluster.keys_per_node(f"{prefix}:*")) == 1


def test_key_slots_match_redis(redis_cluster: RedisCluster3) -> None:
    import redis

    from stores.redis._slots import key_slot

    with redis.Redis(host="127.0.0.1", port=redis_cluster.ports[0]) as client:
        for key in ("a", "ckpt:{t1}", "ckpt:{t1}:fence", "{}x", "x{}", "{a}{b}", "é"):
            assert key_slot(key.encode()) == client.execute_command(
                "CLUSTER", "KEYSLOT", key
            ), key
