"""Crashes and restarts: SIGKILL mid-run, a second process, Redis restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime import Runtime, entrypoint
from stores import EmbeddedRedis, RedisSaver, StoreUnavailableError
from tests.redis_server import new_prefix

pytestmark = pytest.mark.redis

SCRIPT = Path(__file__).with_name("crash_workflow.py")
ROOT = Path(__file__).parents[2]


def _child(
    url: str, prefix: str, markers: Path, mode: str, durability: str = "sync"
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            url,
            prefix,
            "crashy",
            str(markers),
            mode,
            durability,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc: subprocess.Popen[str]) -> Any:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _marks(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _records_stored(url: str, prefix: str) -> int:
    import redis

    with redis.Redis.from_url(url) as client:  # task records in the thread's stream
        entries = client.xrange(f"{prefix}:{{crashy}}")
        return sum(1 for _, fields in entries if b"t" in fields)


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_sigkill_mid_run_then_resume_in_a_new_process(
    redis_url: str, tmp_path: Path, durability: str
) -> None:
    prefix, markers = new_prefix(), tmp_path / "markers"
    proc = _child(redis_url, prefix, markers, "start", durability)
    deadline = time.monotonic() + 30
    # "sync": the second task starts only once the first is recorded.
    # "async": the first is written behind while the second runs.
    while "slow-start" not in _marks(markers) or (
        durability == "async" and _records_stored(redis_url, prefix) < 1
    ):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "child never reached the second task"
        time.sleep(0.02)
    if durability == "sync":
        assert _records_stored(redis_url, prefix) == 1
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # reap it and close its pipes
    assert _marks(markers) == ["fetch", "slow-start"]

    result = _finish(_child(redis_url, prefix, markers, "resume"))
    assert result == "HELLO!"
    # fetch finished before the crash: recorded, so never run again
    assert _marks(markers) == ["fetch", "slow-start", "slow-start", "slow-done"]


def test_a_second_process_continues_the_thread(redis_url: str, tmp_path: Path) -> None:
    prefix, markers = new_prefix(), tmp_path / "markers"
    assert _finish(_child(redis_url, prefix, markers, "turn:one")) == ["one"]
    assert _finish(_child(redis_url, prefix, markers, "turn:two")) == ["one", "two"]


async def _count_turn(saver: RedisSaver, thread_id: str) -> int:
    @entrypoint(checkpointer=saver)
    async def count(_: Any, *, previous: int | None = None) -> int:
        return (previous or 0) + 1

    return await count.ainvoke(None, {"configurable": {"thread_id": thread_id}})


async def test_redis_restart_between_turns(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    await anyio.to_thread.run_sync(server.start)
    port = server.port
    try:
        async with RedisSaver(server.url) as saver, Runtime():
            assert await _count_turn(saver, "r") == 1
            await anyio.to_thread.run_sync(server.stop)
            server = EmbeddedRedis(data_dir=tmp_path / "data", port=port)
            await anyio.to_thread.run_sync(server.start)
            # the AOF brought the checkpoint back; the client reconnects by itself
            assert await _count_turn(saver, "r") == 2
    finally:
        await anyio.to_thread.run_sync(server.stop)


async def test_redis_down_fails_clearly_and_in_bounded_time(tmp_path: Path) -> None:
    server = EmbeddedRedis()
    await anyio.to_thread.run_sync(server.start)
    url = server.url
    await anyio.to_thread.run_sync(server.stop)
    async with RedisSaver(url) as saver:
        started = time.monotonic()
        with (
            anyio.fail_after(30),
            pytest.raises(StoreUnavailableError, match=r"Redis|redis"),
        ):
            await _count_turn(saver, "down")
        assert time.monotonic() - started < 30
