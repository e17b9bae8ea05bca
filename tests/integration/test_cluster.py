"""Runtime(cluster=...): Runtimes in several processes on one Redis serve one thread space.

Each test runs real member processes (``cluster_worker.py``) and checks
that every acknowledged turn is in its thread's history exactly once, in
the order its sender sent it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import drop_prefix, new_prefix

pytestmark = pytest.mark.redis

WORKER = Path(__file__).with_name("cluster_worker.py")
ROOT = Path(__file__).parents[2]
LEASE = 1.0
THREADS = [f"t{i}" for i in range(12)]


class Member:
    """One member process, driven by JSON commands."""

    def __init__(
        self,
        url: str,
        prefix: str,
        saver_url: str | None = None,
        *,
        host: str = "asyncio",
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CLUSTER_HOST": host}
        extra = [saver_url] if saver_url else []
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), url, prefix, str(LEASE), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._answers: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.member = "(starting)"

    def ready(self) -> Member:
        self.member = self.wait("ready", 40)["member"]
        return self

    def _box(self, rid: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._answers.setdefault(rid, queue.Queue())

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            self._box(message["id"]).put(message)

    def send(self, op: str, **args: Any) -> str:
        with self._lock:
            self._next += 1
            rid = f"c{self._next}"
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return rid

    def wait(self, rid: str, timeout: float = 40) -> dict[str, Any]:
        try:
            return self._box(rid).get(timeout=timeout)
        except queue.Empty:
            err = ""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            raise AssertionError(
                f"no answer to {rid} from {self.member!r}: {err[-3000:]}"
            ) from None

    def call(self, op: str, timeout: float = 40, **args: Any) -> dict[str, Any]:
        return self.wait(self.send(op, **args), timeout)

    def leave(self) -> None:
        self.send("exit")
        self.wait("left", 30)
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # ends the worker's stdin reader
        self.proc.wait(10)
        assert self.proc.returncode == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def cluster(redis_url: str):
    prefix = new_prefix()
    members: list[Member] = []

    def start(n: int = 1, hosts: tuple[str, ...] = ("asyncio",)) -> list[Member]:
        started = [  # in parallel
            Member(redis_url, prefix, host=hosts[i % len(hosts)]) for i in range(n)
        ]
        members.extend(started)
        return [m.ready() for m in started]

    start.prefix = prefix  # type: ignore[attr-defined]
    yield start
    for m in members:
        m.kill()
    drop_prefix(prefix)


def balanced(members: list[Member], n: int, timeout: float = 15) -> None:
    """Wait until every member sees ``n`` members and serves some shard."""
    deadline = time.monotonic() + timeout
    while True:
        stats = [m.call("stats")["stats"] for m in members]
        if (
            all(s["members"] == n and s["owned_shards"] > 0 for s in stats)
            and sum(s["owned_shards"] for s in stats) == 64
        ):
            return
        assert time.monotonic() < deadline, stats
        time.sleep(0.05)


def history(prefix: str, thread: str) -> list[str]:
    """The thread's latest value, read through a fresh saver."""
    import anyio

    from runtime._serde import loads
    from stores import RedisSaver
    from tests.redis_server import session_url

    async def load() -> list[str]:
        async with RedisSaver(session_url(), prefix=prefix) as saver:
            state = await saver.aload(thread)
            return loads(state.latest.value) if state.latest else []

    return anyio.run(load)


def check_exactly_once(prefix: str, acks: list[dict[str, list[str]]]) -> None:
    """Every acknowledged turn is in its thread once, each sender's in its order."""
    threads = {t for a in acks for t in a}
    for thread in threads:
        seen = history(prefix, thread)
        assert len(seen) == len(set(seen)), (thread, seen)
        for a in acks:
            mine = a.get(thread, [])
            positions = [seen.index(tok) for tok in mine if tok in seen]
            assert len(positions) == len(mine), (thread, mine, seen)
            assert positions == sorted(positions), (thread, mine, seen)


def test_three_members_share_threads(cluster: Any) -> None:
    # one member on each event loop: the transport is the same on all three
    members = cluster(3, hosts=("asyncio", "trio", "uvloop"))
    balanced(members, 3)
    threads = spread(members)
    rids = [
        m.send("turns", threads=threads, turns=5, tag=f"m{i}")
        for i, m in enumerate(members)
    ]
    results = [m.wait(r) for m, r in zip(members, rids, strict=True)]
    assert all(not r["errors"] for r in results), [r["errors"] for r in results]
    acks = [r["acks"] for r in results]
    assert all(len(a[t]) == 5 for a in acks for t in threads)
    check_exactly_once(cluster.prefix, acks)
    stats = [m.call("stats")["stats"] for m in members]
    assert all(s["forwarded"] > 0 and s["served_remote"] > 0 for s in stats), stats
    for m in members:
        m.leave()


CANDIDATES = [f"c{i}" for i in range(200)]


def _serving(members: list[Member], member: Member) -> list[str]:
    """Thread ids (of 200 candidates) in shards ``member`` serves."""
    del members
    mine = member.call("stats", threads=CANDIDATES)["mine"]
    assert mine, "the member serves none of 200 threads"
    return mine


def spread(members: list[Member]) -> list[str]:
    """THREADS plus two threads each member serves, so every member owns some.

    Twelve hashed thread ids miss a member's shards about one time in fifty.
    """
    return [*THREADS, *(t for m in members for t in _serving(members, m)[:2])]


def test_kill9_of_a_member_loses_its_shards_to_the_live_ones(cluster: Any) -> None:
    a, b, c = members = cluster(3)
    balanced(members, 3)
    victims = _serving(members, c)
    threads = [*THREADS, *victims[1:4]]
    rids = [
        m.send("turns", threads=threads, turns=6, tag=f"m{i}", delay=0.02)
        for i, m in enumerate((a, b))
    ]
    deadline = time.monotonic() + 20
    while c.call("stats")["stats"]["served_remote"] < 3:  # mid-load
        assert time.monotonic() < deadline
    os.kill(c.proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    probe = a.call("invoke", thread=victims[0], text="probe")
    failover = time.monotonic() - killed
    results = [m.wait(r) for m, r in zip((a, b), rids, strict=True)]
    assert all(not r["errors"] for r in results), [r["errors"] for r in results]
    acks = [r["acks"] for r in results]
    assert all(len(x[t]) == 6 for x in acks for t in threads)
    check_exactly_once(cluster.prefix, [*acks, {victims[0]: ["probe"]}])
    assert "probe" in probe["value"]
    print(f"failover after kill -9 (lease {LEASE} s): {failover:.2f} s")
    assert failover < LEASE * 3
    balanced([a, b], 2)
    stats = [m.call("stats")["stats"] for m in (a, b)]
    assert sum(s["takeovers"] for s in stats) > 0, stats


def test_graceful_leave_hands_threads_over(cluster: Any) -> None:
    a, b, c = members = cluster(3)
    balanced(members, 3)
    threads = spread(members)
    rids = [
        m.send("turns", threads=threads, turns=6, tag=f"m{i}", delay=0.02)
        for i, m in enumerate((a, b))
    ]
    deadline = time.monotonic() + 20
    while c.call("stats")["stats"]["served_remote"] < 3:  # mid-load
        assert time.monotonic() < deadline
    c.leave()
    results = [m.wait(r) for m, r in zip((a, b), rids, strict=True)]
    assert all(not r["errors"] for r in results), [r["errors"] for r in results]
    acks = [r["acks"] for r in results]
    check_exactly_once(cluster.prefix, acks)
    balanced([a, b], 2)
    stats = [m.call("stats")["stats"] for m in (a, b)]
    assert sum(s["takeovers"] for s in stats) == 0, stats  # released, not taken


def test_remote_streaming_in_every_mode(cluster: Any) -> None:
    a, b = members = cluster(2)
    balanced(members, 2)
    remote = _serving(members, b)
    local = _serving(members, a)
    modes = ["values", "updates", "custom", "messages", "debug"]
    args = {"modes": modes, "tokens": ["Hel", "lo"]}
    far = a.call("stream", thread=remote[0], text="x", **args)["chunks"]
    near = a.call("stream", thread=local[0], text="x", **args)["chunks"]
    assert [m for m, _ in far] == [m for m, _ in near]
    for (mode, got), (_, want) in zip(far, near, strict=True):
        if mode in ("values", "updates", "custom"):
            assert got == want
        if mode == "messages":
            assert got[0]["content"] == want[0]["content"]
            assert got[1]["thread_id"] == remote[0]
    assert [c[0]["content"] for m, c in far if m == "messages"] == ["Hel", "lo"]
    single = a.call("stream", thread=remote[0], text="y", modes="custom")["chunks"]
    assert single == [{"custom": "y"}]
    assert history(cluster.prefix, remote[0]) == ["x", "y"]


def test_zombie_owner_cannot_commit_over_its_successor(
    cluster: Any, tmp_path: Path
) -> None:
    a, z = members = cluster(2)
    balanced(members, 2)
    thread = _serving(members, z)[0]
    marks = tmp_path / "marks"
    slow = z.send("invoke", thread=thread, text="z", delay=LEASE * 2.5, mark=str(marks))
    deadline = time.monotonic() + 20
    while not marks.exists():
        assert time.monotonic() < deadline
    os.kill(z.proc.pid, signal.SIGSTOP)
    try:
        first = a.call(
            "invoke", thread=thread, text="a1"
        )  # after the lease: A took the shard
        second = a.call("invoke", thread=thread, text="a2")
    finally:
        os.kill(z.proc.pid, signal.SIGCONT)
    assert first["value"] == ["a1"] and second["value"] == ["a1", "a2"]
    late = z.wait(slow)  # its commit was fenced; the request went to the new owner
    assert late.get("value") == ["a1", "a2", "z"], late
    assert history(cluster.prefix, thread) == ["a1", "a2", "z"]
    assert z.call("stats")["stats"]["lost_leases"] >= 1


def test_strategies_act_where_the_run_runs(cluster: Any, tmp_path: Path) -> None:
    a, b = members = cluster(2)
    balanced(members, 2)
    thread = _serving(members, b)[0]
    marks = tmp_path / "marks"
    slow = b.send("invoke", thread=thread, text="slow", delay=20, mark=str(marks))
    deadline = time.monotonic() + 20
    while not marks.exists():
        assert time.monotonic() < deadline
    busy = a.call("invoke", thread=thread, text="r", strategy="reject")
    assert busy["error"].startswith("ThreadBusyError"), busy
    took = a.call("invoke", thread=thread, text="i", strategy="interrupt")
    assert took["value"] == ["i"]
    cancelled = b.wait(slow)
    assert cancelled["error"].startswith("RunCancelledError"), cancelled
    slow = a.send("invoke", thread=thread, text="slow2", delay=20, mark=str(marks))
    while len(marks.read_text().split()) < 2:
        assert time.monotonic() < deadline
    rolled = b.call("invoke", thread=thread, text="rb", strategy="rollback")
    assert rolled["value"] == ["i", "rb"]
    assert a.wait(slow)["error"].startswith("RunCancelledError")
    assert history(cluster.prefix, thread) == ["i", "rb"]


def test_redis_restart_under_load(tmp_path: Path) -> None:
    from stores import EmbeddedRedis

    server = EmbeddedRedis(data_dir=tmp_path / "data").start()
    port, prefix = server.port, new_prefix()
    members = [Member(server.url, prefix) for _ in range(2)]
    try:
        for m in members:
            m.ready()
        balanced(members, 2)
        threads = spread(members)
        rids = [
            m.send("turns", threads=threads, turns=8, tag=f"m{i}", delay=0.02)
            for i, m in enumerate(members)
        ]
        deadline = time.monotonic() + 20
        while members[1].call("stats")["stats"]["served_remote"] < 3:  # mid-load
            assert time.monotonic() < deadline
        server.stop()  # its append-only file keeps what it acknowledged
        server = EmbeddedRedis(data_dir=tmp_path / "data", port=port).start()
        results = [m.wait(r, 50) for m, r in zip(members, rids, strict=True)]
        for r in results:  # each turn completed or failed naming Redis
            assert all("Redis" in e or "redis" in e for e in r["errors"]), r["errors"]
        acks = [r["acks"] for r in results]
        # membership and leases recover: a second round is served in full
        balanced(members, 2)
        again = [
            m.call("turns", threads=threads, turns=2, tag=f"n{i}")
            for i, m in enumerate(members)
        ]
        assert all(not r["errors"] for r in again), [r["errors"] for r in again]
        # every acknowledged turn is there once, in order (read through this Redis)
        for thread in threads:
            seen = _history_at(server.url, prefix, thread)
            assert len(seen) == len(set(seen)), seen
            for a in [*acks, *(r["acks"] for r in again)]:
                mine = a.get(thread, [])
                assert all(tok in seen for tok in mine), (mine, seen)
                assert [seen.index(t) for t in mine] == sorted(
                    seen.index(t) for t in mine
                )
    finally:
        for m in members:
            m.kill()
        server.stop()


def _history_at(
    url: str, prefix: str, thread: str, *, cluster: bool = False
) -> list[str]:
    import anyio

    from runtime._serde import loads
    from stores import RedisSaver

    async def load() -> list[str]:
        async with RedisSaver(url, prefix=prefix, cluster=cluster) as saver:
            state = await saver.aload(thread)
            return loads(state.latest.value) if state.latest else []

    return anyio.run(load)


def test_cluster_arguments_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import Runtime

    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ValueError, match="REDIS_URL"):
        Runtime(cluster=True)
    with pytest.raises(ValueError, match="Redis url"):
        Runtime(cluster="localhost")
    with pytest.raises(ValueError, match="lease_time"):
        Runtime(cluster="redis://x", lease_time=0)
    with pytest.raises(ValueError, match="cluster_shards"):
        Runtime(cluster="redis://x", cluster_shards=0)


async def test_one_member_serves_every_thread_locally(redis_url: str) -> None:
    from runtime import Runtime, entrypoint
    from stores import MemorySaver, RedisSaver

    prefix = new_prefix()
    async with (
        RedisSaver(redis_url, prefix=prefix) as saver,
        Runtime(cluster=redis_url, cluster_prefix=prefix + ":cl", lease_time=5.0) as rt,
    ):

        @entrypoint(checkpointer=saver, name="solo")
        async def solo(x: str, *, previous: list[str] | None = None) -> list[str]:
            return [*(previous or []), x]

        for i in range(3):
            await solo.ainvoke(str(i), {"configurable": {"thread_id": "s"}})
        assert (await solo.aget_state({"configurable": {"thread_id": "s"}})).values == [
            "0",
            "1",
            "2",
        ]
        stats = rt.statistics().cluster
        assert stats is not None
        assert (stats.owned_shards, stats.forwarded, stats.members) == (64, 0, 1)

        @entrypoint(checkpointer=MemorySaver(), name="private")
        async def private(x: str) -> str:
            return x

        with pytest.raises(TypeError, match="RedisSaver"):
            await private.ainvoke("x", {"configurable": {"thread_id": "p"}})
    drop_prefix(prefix)


async def test_a_member_fences_and_loads_a_thread_together(redis_url: str) -> None:
    # The fence and the load share a batch; a fence holding a newer epoch
    # (another member took the shard) refuses the load and every commit.
    from runtime import Runtime
    from runtime._fenced import FencedSaver
    from stores import FencedError, RedisSaver

    prefix = new_prefix()
    async with (
        RedisSaver(redis_url, prefix=prefix) as saver,
        Runtime(cluster=redis_url, cluster_prefix=prefix + ":cl", lease_time=5.0) as rt,
    ):
        node = rt._cluster
        assert node is not None
        fenced = FencedSaver(saver, node)
        epoch = node.epoch_of("a")
        state = await fenced.aload("a")
        assert state.latest is None
        with pytest.raises(FencedError):
            await saver.afence("a", epoch - 1)  # the fence holds this epoch now
        await saver.afence("b", node.epoch_of("b") + 1)  # a newer owner of "b"
        with pytest.raises(FencedError, match="newer than"):
            await fenced.aload("b")
        with pytest.raises(FencedError, match="not loaded under a lease"):
            await fenced.acommit("b", object(), expected_version=0)  # type: ignore[arg-type]
    drop_prefix(prefix)


def test_members_with_checkpoints_on_a_redis_cluster(
    redis_url: str, tmp_path: Path
) -> None:
    from tests.redis_cluster import RedisCluster3

    nodes = RedisCluster3(tmp_path).start()
    prefix = new_prefix()
    members = [Member(redis_url, prefix, nodes.url) for _ in range(2)]
    try:
        for m in members:
            m.ready()
        balanced(members, 2)
        rids = [
            m.send("turns", threads=THREADS, turns=4, tag=f"m{i}")
            for i, m in enumerate(members)
        ]
        results = [m.wait(r) for m, r in zip(members, rids, strict=True)]
        assert all(not r["errors"] for r in results), [r["errors"] for r in results]
        for thread in THREADS:
            seen = _history_at(nodes.url, prefix, thread, cluster=True)
            assert len(seen) == len(set(seen)) == 8, seen
            for r in results:
                mine = r["acks"][thread]
                assert [seen.index(t) for t in mine] == sorted(
                    seen.index(t) for t in mine
                )
        assert all(n > 0 for n in nodes.keys_per_node(f"{prefix}:{{*")), (
            "a master got nothing"
        )
    finally:
        for m in members:
            m.kill()
        nodes.stop()
        drop_prefix(prefix)


async def test_joining_an_unreachable_redis_fails_clearly() -> None:
    from runtime import Runtime
    from stores import StoreUnavailableError
    from stores.redis._embedded import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(StoreUnavailableError, match="cannot join the cluster"):
        async with Runtime(cluster=url, lease_time=0.5):
            pass


async def test_a_request_for_a_warm_actor_is_handed_over_without_a_task(
    redis_url: str,
) -> None:
    # The first forwarded request activates the actor (a task); the next ones
    # go to the warm actor from the read loop, their answers in batches, an
    # error included.
    from runtime import Runtime, entrypoint
    from stores import RedisSaver

    prefix = new_prefix()
    cl = prefix + ":cl"
    async with (
        RedisSaver(redis_url, prefix=prefix) as saver,
        Runtime(cluster=redis_url, cluster_prefix=cl, lease_time=5.0) as one,
    ):
        first = one._cluster
        assert first is not None

        @entrypoint(checkpointer=saver, name=f"warm_hand_{prefix}")
        async def warm_hand(x: str, *, previous: list[str] | None = None) -> list[str]:
            if x == "boom":
                raise ValueError("boom")
            return [*(previous or []), x]

        async with Runtime(cluster=redis_url, cluster_prefix=cl, lease_time=5.0) as two:
            second = two._cluster
            assert second is not None
            await _until_settled([first, second], 64)
            thread = _a_thread_owned_by(first, "w")
            config = {"configurable": {"thread_id": thread}}
            assert await warm_hand.ainvoke("a", config) == ["a"]  # activates: a task
            assert first.forward.answers.handed == 0
            assert await warm_hand.ainvoke("b", config) == ["a", "b"]
            with pytest.raises(ValueError, match="boom"):
                await warm_hand.ainvoke("boom", config)
            assert first.forward.answers.handed == 2
            assert await warm_hand.ainvoke("c", config) == ["a", "b", "c"]
            assert first.forward.answers.handed == 3
            assert second.forward.forwarded == 4
    drop_prefix(prefix)


async def test_a_traced_run_is_forwarded(redis_url: str) -> None:
    # With tracing on, the caller's turn is wrapped for its span: the forward
    # takes the run inside, and the owner's run span is under the caller's.
    from runtime import Runtime, entrypoint
    from stores import RedisSaver
    from tests.otel_support import Otel

    otel = Otel()
    prefix = new_prefix()
    cl = prefix + ":cl"
    try:
        async with (
            RedisSaver(redis_url, prefix=prefix) as saver,
            Runtime(
                cluster=redis_url,
                cluster_prefix=cl,
                lease_time=5.0,
                tracing=otel.tracing(),
            ) as one,
        ):
            first = one._cluster
            assert first is not None

            @entrypoint(checkpointer=saver, name=f"traced_{prefix}")
            async def traced(x: str) -> str:
                return x + "!"

            async with Runtime(
                cluster=redis_url,
                cluster_prefix=cl,
                lease_time=5.0,
                tracing=otel.tracing(),
            ) as two:
                second = two._cluster
                assert second is not None
                await _until_settled([first, second], 64)
                thread = _a_thread_owned_by(first, "tr")
                config = {"configurable": {"thread_id": thread}}
                assert await traced.ainvoke("a", config) == "a!"
                assert second.forward.forwarded == 1
        assert len(otel.named(f"invoke_workflow traced_{prefix}")) == 1
    finally:
        otel.close()
    drop_prefix(prefix)


def _a_thread_owned_by(node: Any, stem: str) -> str:
    """The first of ``<stem>0``, ``<stem>1``, ... whose shard ``node`` owns."""
    from runtime._cluster import shard_of

    return next(
        t for t in (f"{stem}{i}" for i in range(1000)) if shard_of(t, 64) in node.owned
    )


async def _until_settled(nodes: list[Any], shards: int) -> None:
    """Wait (events, no polling) until every node holds exactly its own shards."""
    import anyio

    def done() -> bool:
        owned = [set(n.owned) for n in nodes]
        return (
            all(len(n.live) == len(nodes) and n.settled() for n in nodes)
            and sum(map(len, owned)) == shards
            and set().union(*owned) == set(range(shards))
        )

    with anyio.fail_after(30):
        while True:
            events = [
                n.changed for n in nodes
            ]  # taken before the check: no lost wake-up
            if done():
                return
            async with anyio.create_task_group() as tg:

                async def wake(event: Any, scope: anyio.CancelScope) -> None:
                    await event.wait()
                    scope.cancel()

                for event in events:
                    tg.start_soon(wake, event, tg.cancel_scope)


async def test_settled_only_once_the_hand_over_is_done(redis_url: str) -> None:
    from runtime import Runtime

    prefix = new_prefix() + ":cl"
    async with Runtime(cluster=redis_url, cluster_prefix=prefix, lease_time=1.0) as one:
        first = one._cluster
        assert first is not None
        await _until_settled([first], 64)
        assert len(first.owned) == 64
        async with Runtime(
            cluster=redis_url, cluster_prefix=prefix, lease_time=1.0
        ) as two:
            second = two._cluster
            assert second is not None
            # the newcomer took nothing yet, or the first one still hands over
            assert not (first.settled() and second.settled() and len(first.live) == 2)
            await _until_settled([first, second], 64)
            assert 0 < len(second.owned) < 64
        await _until_settled([first], 64)
