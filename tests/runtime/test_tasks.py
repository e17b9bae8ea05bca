"""Tasks: futures, parallelism, retries, recording and replay."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from actors import RunCancelledError
from runtime import ReplayDivergedError, RetryPolicy, Runtime, entrypoint, task
from runtime._task import default_retry_on
from stores import MemorySaver

from .conftest import thread


async def test_tasks_run_in_parallel(saver: MemorySaver) -> None:
    a_started, b_started = anyio.Event(), anyio.Event()

    @task
    async def a() -> str:
        a_started.set()
        await b_started.wait()  # deadlocks unless b runs at the same time
        return "a"

    @task
    async def b() -> str:
        b_started.set()
        await a_started.wait()
        return "b"

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> list[str]:
        fa, fb = a(), b()
        return [await fa, await fb]

    with anyio.fail_after(5):
        assert await wf.ainvoke(None, thread()) == ["a", "b"]


async def test_sync_tasks_and_result_from_sync_code(saver: MemorySaver) -> None:
    @task
    def square(x: int) -> int:
        return x * x

    @entrypoint(checkpointer=saver)
    def wf(xs: list[int]) -> int:
        futures = [square(x) for x in xs]
        return sum(f.result() for f in futures)

    assert await wf.ainvoke([1, 2, 3], thread()) == 14


async def test_future_result_on_the_loop_is_a_clear_error(saver: MemorySaver) -> None:
    gate = anyio.Event()

    @task
    async def slow() -> int:
        await gate.wait()
        return 1

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> str:
        fut = slow()
        try:
            fut.result()
        except RuntimeError as exc:
            gate.set()
            await fut
            return str(exc)
        return "no error"

    assert "await" in await wf.ainvoke(None, thread())


async def test_retry_policy_retries_then_succeeds(saver: MemorySaver) -> None:
    calls: list[int] = []

    @task(retry=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False))
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "ok"

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> str:
        return await flaky()

    assert await wf.ainvoke(None, thread()) == "ok"
    assert len(calls) == 3


async def test_retry_policy_gives_up_and_respects_retry_on(saver: MemorySaver) -> None:
    calls: dict[str, int] = {"exhaust": 0, "skip": 0}

    @task(retry=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False))
    async def exhaust() -> None:
        calls["exhaust"] += 1
        raise ConnectionError("down")

    @task(retry=RetryPolicy(max_attempts=5, initial_interval=0, retry_on=KeyError))
    async def skip() -> None:
        calls["skip"] += 1
        raise ValueError("not retried")

    @entrypoint(checkpointer=saver)
    async def wf(which: str) -> None:
        await (exhaust() if which == "exhaust" else skip())

    with pytest.raises(ConnectionError, match="down"):
        await wf.ainvoke("exhaust", thread())
    with pytest.raises(ValueError, match="not retried"):
        await wf.ainvoke("skip", thread())
    assert calls == {"exhaust": 2, "skip": 1}


def test_retry_policy_validation_and_defaults() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    policy = RetryPolicy(
        initial_interval=1, backoff_factor=2, max_interval=3, jitter=False
    )
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]
    assert RetryPolicy(retry_on=(KeyError, IndexError)).should_retry(IndexError())
    assert RetryPolicy(retry_on=lambda e: "x" in str(e)).should_retry(Exception("x"))
    assert default_retry_on(ConnectionError()) and not default_retry_on(ValueError())

    class Http(Exception):
        def __init__(self, status: int) -> None:
            self.status_code = status

    assert default_retry_on(Http(503)) and not default_retry_on(Http(404))
    with pytest.raises(TypeError, match="RetryPolicy"):
        task(retry={"max_attempts": 2})  # type: ignore[call-overload]


async def test_resume_after_error_does_not_rerun_finished_tasks(
    saver: MemorySaver,
) -> None:
    runs = {"fetch": 0, "fragile": 0}
    broken = True

    @task
    async def fetch(x: int) -> int:
        runs["fetch"] += 1
        return x * 10

    @task
    async def fragile(x: int) -> int:
        runs["fragile"] += 1
        if broken:
            raise RuntimeError("boom")
        return x + 1

    @entrypoint(checkpointer=saver)
    async def wf(x: int, *, previous: Any = None) -> int:
        return await fragile(await fetch(x))

    cfg = thread()
    async with Runtime():
        with pytest.raises(RuntimeError, match="boom"):
            await wf.ainvoke(4, cfg)
        assert (await wf.aget_state(cfg)).next == ("wf",)
        broken = False
        assert await wf.ainvoke(None, cfg) == 41
    assert runs == {"fetch": 1, "fragile": 2}
    assert (await wf.aget_state(cfg)).next == ()


async def test_results_are_recorded_as_each_task_finishes(saver: MemorySaver) -> None:
    first_done, release = anyio.Event(), anyio.Event()

    @task
    async def first() -> str:
        return "one"

    @task
    async def second() -> str:
        first_done.set()
        await release.wait()
        return "two"

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> list[str]:
        a = await first()
        return [a, await second()]

    cfg = thread("rec")
    async with anyio.create_task_group() as tg, Runtime():
        tg.start_soon(wf.ainvoke, None, cfg)
        with anyio.fail_after(5):
            await first_done.wait()
            # written behind while the run goes on: stored before it ends
            while not (state := await saver.aload("rec")).records:  # noqa: ASYNC110 -- written behind, bounded above
                await anyio.sleep(0.001)
        assert state.run is not None
        assert [(r.task_id, r.name, r.kind) for r in state.records] == [
            ("0", "first", "result")
        ]
        release.set()
    assert (await saver.aload("rec")).run is None


async def test_nested_task_ids_are_deterministic(saver: MemorySaver) -> None:
    @task
    async def leaf(x: int) -> int:
        return x

    @task
    async def branch(x: int) -> int:
        a, b = leaf(x), leaf(x + 1)
        return await a + await b

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> int:
        one, two = branch(1), branch(10)
        total = await one + await two
        raise RuntimeError(f"stop after {total}")

    cfg = thread("ids")
    with pytest.raises(RuntimeError, match="stop after 24"):
        await wf.ainvoke(None, cfg)
    ids = sorted(r.task_id for r in (await saver.aload("ids")).records)
    assert ids == ["0", "0/0", "0/1", "1", "1/0", "1/1"]


async def test_replay_diverged_is_a_clear_error(saver: MemorySaver) -> None:
    order = ["a"]

    @task
    async def a() -> str:
        return "a"

    @task
    async def b() -> str:
        return "b"

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> str:
        first = await (a() if order[0] == "a" else b())
        raise RuntimeError(f"fail after {first}")

    cfg = thread()
    with pytest.raises(RuntimeError, match="fail after a"):
        await wf.ainvoke("go", cfg)
    order[0] = "b"
    with pytest.raises(
        ReplayDivergedError, match=r"must not depend on nondeterministic"
    ):
        await wf.ainvoke(None, cfg)


async def test_failed_task_surfaces_only_when_awaited(saver: MemorySaver) -> None:
    @task
    async def bad() -> None:
        raise KeyError("nope")

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> str:
        fut = bad()
        try:
            await fut
        except KeyError:
            return "handled"
        return "unreachable"

    assert await wf.ainvoke(None, thread()) == "handled"


async def test_sync_bodies_cannot_starve_their_sync_tasks(saver: MemorySaver) -> None:
    # More sync bodies than task threads: each body holds a worker thread
    # while it waits for its task, so bodies need a pool of their own.
    @task
    def inc(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=saver)
    def wf(x: int) -> int:
        return inc(x).result()

    results: list[int] = []

    async def call(i: int) -> None:
        results.append(await wf.ainvoke(i, thread()))

    with anyio.fail_after(10):
        async with Runtime(max_sync_threads=2), anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(call, i)
    assert sorted(results) == [1, 2, 3, 4, 5, 6]


_VAR: ContextVar[str] = ContextVar("test_tasks_var", default="unset")


@pytest.mark.parametrize("await_at_once", [True, False])
async def test_a_task_runs_in_a_copy_of_the_context_of_its_call(
    saver: MemorySaver, await_at_once: bool
) -> None:
    # Awaited at once, a task runs in place on asyncio; either way it sees
    # the context as of its call and its own changes stay its own.
    seen: list[str] = []

    @task
    async def look() -> str:
        seen.append(_VAR.get())
        _VAR.set("set by the task")
        await anyio.lowlevel.checkpoint()
        return _VAR.get()

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> list[str]:
        _VAR.set("at the call")
        fut = look()
        if await_at_once:
            inside = await fut
        else:
            _VAR.set("after the call")
            await anyio.lowlevel.checkpoint()  # the task starts on its own meanwhile
            inside = await fut
        return [inside, _VAR.get()]

    after = "at the call" if await_at_once else "after the call"
    assert await wf.ainvoke(None, thread()) == ["set by the task", after]
    assert seen == ["at the call"]


async def test_a_task_never_awaited_still_runs_before_the_run_ends(
    saver: MemorySaver,
) -> None:
    ran: list[int] = []

    @task
    async def side(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        ran.append(x)
        return x

    @entrypoint(checkpointer=saver)
    async def wf(x: int) -> str:
        side(x)  # called, never awaited: the run still waits for it
        return "done"

    assert await wf.ainvoke(7, thread()) == "done"
    assert ran == [7]


@pytest.mark.parametrize("spawned", [False, True])
async def test_a_run_stopped_by_a_newer_request_cancels_its_tasks(
    saver: MemorySaver, spawned: bool
) -> None:
    # One task awaited at once runs in place (on asyncio); of two tasks
    # called before either is awaited, the second runs as a task of its own,
    # outside the body's cancel scope. Both kinds are cancelled.
    started = anyio.Event()
    cancelled: list[str] = []

    @task
    async def wait_forever(name: str) -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(name)
            raise
        return name

    @entrypoint(checkpointer=saver)
    async def wf(x: str) -> list[str]:
        if x == "fast":
            return [x]
        if not spawned:
            return [await wait_forever("a")]
        a, b = wait_forever("a"), wait_forever("b")
        return [await a, await b]

    cfg = thread()

    async def first() -> None:
        with pytest.raises(RunCancelledError):
            await wf.ainvoke("slow", cfg)

    with anyio.fail_after(5):
        async with Runtime(), anyio.create_task_group() as tg:
            tg.start_soon(first)
            await started.wait()
            again = {**cfg, "multitask_strategy": "interrupt"}
            assert await wf.ainvoke("fast", again) == ["fast"]
    assert sorted(cancelled) == (["a", "b"] if spawned else ["a"])


async def test_a_failing_body_cancels_its_spawned_tasks_before_it_fails(
    saver: MemorySaver,
) -> None:
    ended: list[str] = []

    @task
    async def slow() -> str:
        try:
            await anyio.sleep_forever()
        finally:
            ended.append("slow")
        return "never"

    @entrypoint(checkpointer=saver)
    async def wf(_: Any) -> str:
        slow()  # runs as a task of its own
        await anyio.lowlevel.checkpoint()
        raise KeyError("body failed")

    with anyio.fail_after(5), pytest.raises(KeyError, match="body failed"):
        await wf.ainvoke(None, thread())
    assert ended == ["slow"]  # ended before the run reported its error
