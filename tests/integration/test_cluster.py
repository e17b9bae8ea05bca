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

from tests.redis_server import admin, new_prefix

pytestmark = pytest.mark.redis

WORKER = Path(__file__).with_name("cluster_worker.py")
ROOT = Path(__file__).parents[2]
LEASE = 1.0
THREADS = [f"t{i}" for i in range(12)]


class Member:
    """One member process, driven by JSON commands."""

    def __init__(self, url: str, prefix: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), url, prefix, str(LEASE)],
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
        self.member = self.wait("ready", 20)["member"]

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
            raise AssertionError(f"no answer to {rid} from {self.member!r}: {err[-3000:]}") from None

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
def cluster(redis_url: str):  # noqa: ANN201 -- a generator fixture
    prefix = new_prefix()
    members: list[Member] = []

    def start(n: int = 1) -> list[Member]:
        started = [Member(redis_url, prefix) for _ in range(n)]
        members.extend(started)
        return started

    start.prefix = prefix  # type: ignore[attr-defined]
    yield start
    for m in members:
        m.kill()
    keys = list(admin().scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        admin().delete(*keys)


def balanced(members: list[Member], n: int, timeout: float = 15) -> None:
    """Wait until every member sees ``n`` members and serves some shard."""
    deadline = time.monotonic() + timeout
    while True:
        stats = [m.call("stats")["stats"] for m in members]
        if all(s["members"] == n and s["owned_shards"] > 0 for s in stats) and sum(
            s["owned_shards"] for s in stats
        ) == 64:
            return
        assert time.monotonic() < deadline, stats
        time.sleep(0.05)


def history(prefix: str, thread: str) -> list[str]:
    """The thread's latest value, read through a fresh saver."""
    import anyio

    from stores import RedisSaver
    from runtime._serde import loads
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
    members = cluster(3)
    balanced(members, 3)
    rids = [m.send("turns", threads=THREADS, turns=5, tag=f"m{i}") for i, m in enumerate(members)]
    results = [m.wait(r) for m, r in zip(members, rids, strict=True)]
    assert all(not r["errors"] for r in results), [r["errors"] for r in results]
    acks = [r["acks"] for r in results]
    assert all(len(a[t]) == 5 for a in acks for t in THREADS)
    check_exactly_once(cluster.prefix, acks)
    stats = [m.call("stats")["stats"] for m in members]
    assert all(s["forwarded"] > 0 and s["served_remote"] > 0 for s in stats), stats
    for m in members:
        m.leave()
