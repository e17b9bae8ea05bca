"""Where sync twins run: the process's one shared loop, from any thread or loop.

These tests are sync on purpose: each builds the situation it tests (a bare
``asyncio.run`` loop, ``trio.run``, a loop callback, many threads, a fork)
itself, instead of running inside the anyio test runner.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- the hosts under test are bare asyncio loops
import os
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
import trio

from runtime import Runtime, entrypoint, get_stream_writer, task
from stores import InMemoryStore, MemorySaver, _portal as portal
from stores._portal import THREAD_NAME, close_shared_loop, shared_loop
from tests.exit_check import run_child
from tests.fake_llm_servers import FakeLLMServer

from .conftest import thread


def _counter(saver: MemorySaver) -> Any:
    @entrypoint(checkpointer=saver)
    def count(step: int, *, previous: int | None = None) -> int:
        return (previous or 0) + step

    return count


def _sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def _uses_of_every_twin(saver: MemorySaver) -> tuple[Any, ...]:
    count = _counter(saver)
    cfg = thread()
    first = count.invoke(2, cfg)
    chunks = list(count.stream(3, cfg, stream_mode="values"))
    count.update_state(cfg, 10)
    values = count.get_state(cfg).values
    history = [s.values for s in count.get_state_history(cfg)]
    store = InMemoryStore()
    store.put(("n",), "k", {"v": 1})
    got = store.get(("n",), "k")
    return first, chunks, values, history, got.value if got else None


EXPECTED = (2, [5], 10, [10, 5, 2], {"v": 1})


def test_inside_asyncio_run(saver: MemorySaver) -> None:
    async def main() -> tuple[Any, ...]:
        return _uses_of_every_twin(saver)

    assert asyncio.run(main()) == EXPECTED


def test_inside_trio_run(saver: MemorySaver) -> None:
    async def main() -> tuple[Any, ...]:
        return _uses_of_every_twin(saver)

    assert trio.run(main) == EXPECTED


def test_inside_anyio_run_on_trio(saver: MemorySaver) -> None:
    async def main() -> tuple[Any, ...]:
        return _uses_of_every_twin(saver)

    assert anyio.run(main, backend="trio") == EXPECTED


def test_from_a_loop_callback_like_a_notebook(saver: MemorySaver) -> None:
    # A kernel runs cell code from its loop, sometimes outside any task
    # (where sniffio cannot name the library): the call still works.
    loop = asyncio.new_event_loop()
    results: list[tuple[Any, ...]] = []
    try:
        loop.call_soon(lambda: results.append(_uses_of_every_twin(saver)))
        loop.call_soon(loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert results == [EXPECTED]


def test_many_threads_share_one_loop(saver: MemorySaver) -> None:
    # Each caller thread has its own conversation (two sync callers on one
    # thread id would be two short-lived Runtimes racing to commit).
    count = _counter(saver)
    store = InMemoryStore()
    failures: list[Exception] = []

    def worker(n: int) -> None:
        try:
            own = thread()
            for i in range(20):
                assert count.invoke(1, own) == i + 1
                store.put(("calls",), f"{n}-{i}", {"n": n})
            assert list(count.stream(0, own, stream_mode="values")) == [20]
        except Exception as exc:  # noqa: BLE001 -- handed to the test thread
            failures.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    assert len(store.search(("calls",), limit=1000)) == 8 * 20
    assert len(_sync_threads()) == 1


def test_a_sync_twin_on_the_shared_loop_thread_is_a_clear_error(
    saver: MemorySaver,
) -> None:
    count = _counter(saver)

    async def on_the_shared_loop() -> int:
        return count.invoke(1, thread())  # would wait for its own thread

    with pytest.raises(RuntimeError, match=r"shared sync loop.*Entrypoint\.ainvoke"):
        shared_loop().portal.call(on_the_shared_loop)


def test_the_loop_restarts_after_close(saver: MemorySaver) -> None:
    count = _counter(saver)
    cfg = thread()
    assert count.invoke(1, cfg) == 1
    before = shared_loop()
    close_shared_loop()
    assert _sync_threads() == []
    assert count.invoke(1, cfg) == 2
    assert shared_loop() is not before
    assert len(_sync_threads()) == 1


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_starts_its_own_loop(saver: MemorySaver) -> None:
    count = _counter(saver)
    cfg = thread()
    assert count.invoke(1, cfg) == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without the parent's atexit hooks
        code = 1
        try:
            os.close(read)
            forgot = portal._current is None  # pyright: ignore[reportPrivateUsage] -- what the fork hook resets
            reply = (forgot, count.invoke(1, cfg), shared_loop().pid == os.getpid())
            os.write(write, pickle.dumps(reply))
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pickle.loads(data) == (True, 2, True)
    assert count.invoke(1, cfg) == 2  # the parent's copy of the thread is its own


# -- streams -------------------------------------------------------------------


def test_stream_break_returns_once_the_stream_has_closed(saver: MemorySaver) -> None:
    cleaned = threading.Event()

    @entrypoint(checkpointer=saver)
    async def talk(n: int) -> int:
        writer = get_stream_writer()
        try:
            for i in range(n):
                writer(i)
                await anyio.lowlevel.checkpoint()
        finally:
            cleaned.set()
        return n

    cfg = thread()
    items: Iterator[Any] = talk.stream(1000, cfg, stream_mode="custom")
    for item in items:
        if item == 2:
            break
    items.close()  # type: ignore[attr-defined] -- a generator
    # Closing returned once the stream's short-lived Runtime had exited, and
    # a reader that stops early does not stop the run: it finished first.
    assert cleaned.is_set()
    assert talk.get_state(cfg).values == 1000
    assert talk.invoke(3, cfg) == 3  # the thread is free again


def test_stream_raises_the_run_error_after_its_chunks(saver: MemorySaver) -> None:
    @entrypoint(checkpointer=saver)
    def fail(n: int) -> int:
        get_stream_writer()(n)
        raise ValueError("boom")

    got: list[Any] = []
    with pytest.raises(ValueError, match="boom"):
        got.extend(fail.stream(7, thread(), stream_mode="custom"))
    assert got == [7]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_stream_from_a_sync_task_runs_on_the_run_loop(
    saver: MemorySaver, backend: str
) -> None:
    count = _counter(MemorySaver())
    inner = thread()

    @task
    def relay(n: int) -> list[Any]:
        return list(count.stream(n, inner, stream_mode="values"))

    @entrypoint(checkpointer=saver)
    def outer(n: int) -> list[Any]:
        return relay(n).result()

    async def main() -> tuple[Any, Any]:
        async with Runtime() as rt:
            got = await outer.ainvoke(4, thread())
            return got, rt.statistics().threads

    got, threads = anyio.run(main, backend=backend)
    assert got == [4]
    assert sum(t.active for t in threads) == 2  # both threads lived in this Runtime


def test_a_thread_with_a_runtime_context_hops_to_it(saver: MemorySaver) -> None:
    # asyncio.to_thread copies the context (with the Runtime) into a plain
    # thread: the sync call goes back to that Runtime's loop.
    count = _counter(saver)
    cfg = thread()

    async def main() -> tuple[int, int, int]:
        async with Runtime() as rt:
            first = await asyncio.to_thread(count.invoke, 1, cfg)
            second = await count.ainvoke(1, cfg)
            active = sum(t.active for t in rt.statistics().threads)
            return first, second, active

    assert asyncio.run(main()) == (1, 2, 1)


# -- interpreter exit ----------------------------------------------------------


def test_exit_closes_the_sdk_clients_of_the_shared_loop() -> None:
    with FakeLLMServer() as server:
        code = f"""
            from stores import OpenAIEmbeddings

            model = OpenAIEmbeddings(api_key="k", base_url="{server.url}/v1")
            assert len(model.embed_query("a")) == 8
            assert len(model.embed_documents(["b", "c"])) == 2
            print("done")
            """
        result = run_child(code)
    assert result == (0, "done\nopen sockets: 0\n", "")
