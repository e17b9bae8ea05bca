"""StoreActor and ActorStore: many requests, few backing batches."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from actors import ActorDeadError, ActorStore, ActorSystem, StoreActor, StoreStats
from stores import HashingEmbeddings, InMemoryStore, Item, PutOp, SearchItem

from ._support import BadKeyError, GatedStore

NS = ("users", "u1")


class CountingEmbedder:
    """A sync embed function that counts its calls (stores run it in a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[int] = []
        self._inner = HashingEmbeddings(dims=8)

    def __call__(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.calls.append(len(texts))
        return self._inner.embed_documents(texts)


async def serve_concurrently(
    store: ActorStore, backing: GatedStore, n: int
) -> dict[int, Any]:
    """Send one request, hold the backing store, queue ``n - 1`` more, then release.

    Request 0 is a put; then odd requests search and even ones put.
    """
    results: dict[int, Any] = {}

    async def request(i: int) -> None:
        if i % 2 == 0:
            results[i] = await store.aput(NS, f"k{i}", {"text": f"note number {i}"})
        else:
            results[i] = await store.asearch(NS, query=f"note {i}", limit=3)

    async with anyio.create_task_group() as tg:
        tg.start_soon(request, 0)
        await backing.entered.wait()  # the actor is inside the first batch
        for i in range(1, n):
            tg.start_soon(request, i)
        await anyio.wait_all_tasks_blocked()  # all queued in the mailbox
        backing.sizes_at_release = list(backing.batch_sizes)
        backing.gate.set()
    return results


async def test_concurrent_requests_share_backing_batches() -> None:
    embed = CountingEmbedder()
    backing = GatedStore(InMemoryStore(index={"dims": 8, "embed": embed}))
    actor = StoreActor(backing, mailbox_size=64)
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            results = await serve_concurrently(store, backing, 50)
            stats = actor.statistics()
            assert stats == StoreStats(requests=50, ops=50, batches=2, queued=0)
            assert stats.batches < stats.requests
            assert backing.batch_sizes == [1, 49]
            # one embeddings call per batch: every put and query of the batch
            # (each in a worker thread, so in either order)
            assert sorted(embed.calls) == [1, 49]
            # the big batch went out while the first still waited at the gate
            assert backing.sizes_at_release == [1, 49]

            assert len(results) == 50
            assert all(results[i] is None for i in range(0, 50, 2))
            for i in range(1, 50, 2):
                assert all(isinstance(hit, SearchItem) for hit in results[i])
            # writes of the big batch landed and are visible through the actor
            item = await store.aget(NS, "k48")
            assert isinstance(item, Item)
            assert item.value == {"text": "note number 48"}
            assert len(await store.asearch(NS, limit=100)) == 25


async def test_results_go_back_to_their_own_askers_in_order() -> None:
    backing = GatedStore(InMemoryStore())
    actor = StoreActor(backing, mailbox_size=64)
    got: dict[int, Any] = {}

    async def get(i: int) -> None:
        got[i] = await store.aget(NS, f"k{i}")

    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            backing.gate.set()
            for i in range(10):
                await store.aput(NS, f"k{i}", {"i": i})
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(get, i)
    assert {i: item.value["i"] for i, item in got.items()} == {i: i for i in range(10)}


async def test_a_multi_op_request_is_answered_in_op_order() -> None:
    backing = GatedStore(InMemoryStore())
    backing.gate.set()
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            store = ActorStore(
                await system.spawn(StoreActor(backing, mailbox_size=8)), backing
            )
            assert await store.abatch([]) == []
            results = await store.abatch(
                [
                    PutOp(namespace=NS, key="a", value={"n": 1}),
                    PutOp(namespace=NS, key="b", value={"n": 2}),
                ]
            )
            assert results == [None, None]
            assert [i.key for i in await store.asearch(NS)] == ["b", "a"]


async def test_a_failing_request_fails_only_its_own_asker() -> None:
    backing = GatedStore(InMemoryStore(), bad_key="bad")
    actor = StoreActor(backing, mailbox_size=64)
    outcomes: dict[str, object] = {}

    async def put(key: str) -> None:
        try:
            await store.aput(NS, key, {"key": key})
        except BadKeyError as exc:
            outcomes[key] = exc
        else:
            outcomes[key] = "ok"

    keys = ["first", "a", "bad", "b", "c"]
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            async with anyio.create_task_group() as tg:
                tg.start_soon(put, keys[0])
                await backing.entered.wait()
                for key in keys[1:]:
                    tg.start_soon(put, key)
                await anyio.wait_all_tasks_blocked()
                backing.gate.set()
            assert isinstance(outcomes.pop("bad"), BadKeyError)
            assert outcomes == dict.fromkeys(["first", "a", "b", "c"], "ok")
            for key in ["first", "a", "b", "c"]:
                item = await store.aget(NS, key)
                assert item is not None
                assert item.value == {"key": key}
            assert await store.aget(NS, "bad") is None
            assert await store.asearch(NS, limit=10) != []


async def test_request_count_is_not_inflated_by_isolation_retries() -> None:
    # A failed batch is retried request by request; each request is still one
    # request in the statistics (the extra backing calls are extra batches).
    backing = GatedStore(InMemoryStore(), bad_key="bad")
    actor = StoreActor(backing, mailbox_size=64)

    async def put(key: str) -> None:
        try:
            await store.aput(NS, key, {"key": key})
        except BadKeyError:
            pass

    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            async with anyio.create_task_group() as tg:
                tg.start_soon(put, "first")
                await backing.entered.wait()
                for key in ("a", "bad", "b"):
                    tg.start_soon(put, key)
                await anyio.wait_all_tasks_blocked()
                backing.gate.set()
            stats = actor.statistics()
    assert backing.batch_sizes == [1, 3, 1, 1, 1]
    assert stats.batches == 5
    assert stats.requests == 4
    assert stats.ops == 4


async def test_max_batch_bounds_the_operations_per_backing_call() -> None:
    backing = GatedStore(InMemoryStore())
    actor = StoreActor(backing, mailbox_size=64, max_batch=4)
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.aput, NS, "k0", {"i": 0})
                await backing.entered.wait()
                for i in range(1, 11):
                    tg.start_soon(store.aput, NS, f"k{i}", {"i": i})
                await anyio.wait_all_tasks_blocked()
                backing.gate.set()
    assert backing.batch_sizes == [1, 4, 4, 2]
    assert actor.statistics().requests == 11


@pytest.mark.parametrize("max_in_flight", [1, 2, 3])
async def test_at_most_max_in_flight_batches_wait_on_the_backing_store(
    max_in_flight: int,
) -> None:
    # Each batch holds the backing store until released: the actor sends the
    # next batch while earlier ones wait, up to max_in_flight of them.
    inside = 0
    most = 0
    release = anyio.Event()

    class Holding(InMemoryStore):
        async def abatch(self, ops: Any) -> Any:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1
            return await super().abatch(ops)

    backing = Holding()
    actor = StoreActor(
        backing, mailbox_size=64, max_batch=1, max_in_flight=max_in_flight
    )
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing)
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(store.aput, NS, f"k{i}", {"i": i})
                await anyio.wait_all_tasks_blocked()
                assert inside == max_in_flight  # the others wait their turn
                release.set()
            assert len(await store.asearch(NS, limit=10)) == 6
    assert most == max_in_flight
    assert actor.statistics().batches == 7  # six puts, one search


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        StoreActor(InMemoryStore(), mailbox_size=8, max_in_flight=0)


async def test_store_actor_stops_with_the_system() -> None:
    backing = GatedStore(InMemoryStore())
    backing.gate.set()
    actor = StoreActor(backing, mailbox_size=8)
    with anyio.fail_after(5):
        async with ActorSystem() as system:
            ref = await system.spawn(actor)
            store = ActorStore(ref, backing)
            await store.aput(NS, "k", {"v": 1})
        assert ref.stopped
        with pytest.raises(ActorDeadError, match="stopped"):
            await store.aget(NS, "k")


async def test_a_request_to_an_idle_actor_is_served_in_the_callers_task() -> None:
    # Requests to an idle actor run in the caller's task (a batch of one,
    # counted); requests while a batch is in flight go through the mailbox.
    backing = InMemoryStore(index={"dims": 8, "embed": HashingEmbeddings(8)})
    actor = StoreActor(backing, mailbox_size=64)
    seen: list[str | None] = []
    search = backing.abatch
    hold: list[anyio.Event] = []

    async def abatch(ops: Any) -> Any:
        seen.append(anyio.get_current_task().name)
        if hold:
            await hold.pop().wait()
        return await search(ops)

    backing.abatch = abatch  # type: ignore[method-assign]
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing, actor=actor)
            me = anyio.get_current_task().name
            await store.aput(NS, "k", {"text": "hello"})
            assert seen[-1] == me  # a write on an idle actor: inline
            found = await store.asearch(NS, query="hello")
            assert [hit.key for hit in found] == ["k"]
            assert seen[-1] == me  # a read on an idle actor: inline
            assert actor.statistics() == StoreStats(
                requests=2, ops=2, batches=2, queued=0
            )
            release = anyio.Event()
            hold.append(release)
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.aput, NS, "a", {"text": "one"}, name="first")
                await anyio.wait_all_tasks_blocked()  # inline, held
                tg.start_soon(store.aput, NS, "b", {"text": "two"}, name="second")
                await anyio.wait_all_tasks_blocked()
                release.set()
            assert seen[-2] == "first"  # it found the actor idle
            assert seen[-1] not in ("first", "second")  # one batch was in flight
            assert actor.statistics().requests == 4


async def test_a_cancelled_callers_inline_write_still_lands() -> None:
    # A write served in the caller's task is shielded: cancelling the caller
    # takes effect once the write is done, as for a write queued to the actor.
    backing = GatedStore(InMemoryStore())
    actor = StoreActor(backing, mailbox_size=8)
    scope = anyio.CancelScope()

    async def put() -> None:
        with scope:
            await store.aput(NS, "k", {"v": 1})

    with anyio.fail_after(10):
        async with ActorSystem() as system:
            store = ActorStore(await system.spawn(actor), backing, actor=actor)
            async with anyio.create_task_group() as tg:
                tg.start_soon(put)
                await backing.entered.wait()  # in the backing store, inline
                scope.cancel()
                await anyio.wait_all_tasks_blocked()
                assert await backing.inner.aget(NS, "k") is None  # still writing
                backing.gate.set()
            item = await store.aget(NS, "k")
            assert item is not None and item.value == {"v": 1}


async def test_the_actors_task_starts_with_the_first_request_that_queues() -> None:
    # Requests served inline need no task: an ActorStore given ``start``
    # spawns the actor when a request finds it busy, and stopping a front
    # whose actor never started closes its mailbox.
    backing = GatedStore(InMemoryStore())
    actor = StoreActor(backing, mailbox_size=8)
    with anyio.fail_after(10):
        async with ActorSystem() as system:
            starts: list[int] = []

            async def start() -> None:
                starts.append(len(anyio.get_running_tasks()))
                await system.spawn(actor)

            store = ActorStore(actor.ref, backing, actor=actor, start=start)
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.aput, NS, "a", {"v": 1})
                await backing.entered.wait()  # served inline, held: no task started
                assert starts == []
                tg.start_soon(store.aput, NS, "b", {"v": 2})  # has to queue
                await anyio.wait_all_tasks_blocked()
                assert len(starts) == 1
                backing.gate.set()
            tasks = len(anyio.get_running_tasks())
            assert [await store.aget(NS, k) is not None for k in "ab"] == [True, True]
            assert len(anyio.get_running_tasks()) == tasks  # no second start
            assert starts == [starts[0]] and actor.statistics().requests == 4
        idle = StoreActor(InMemoryStore(), mailbox_size=8)
        never = ActorStore(idle.ref, idle.store, actor=idle, start=start)
        await never.aput(NS, "k", {"v": 1})  # inline: the actor never starts
        never.stop()
        with pytest.raises(ActorDeadError):
            await never.aget(NS, "k")
