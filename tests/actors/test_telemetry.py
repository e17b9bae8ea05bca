"""Store spans: one per operation in its caller's trace, one per batch linking them."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from opentelemetry.trace import StatusCode

from actors import ActorStore, ActorSystem, StoreActor
from stores import InMemoryStore
from tests.otel_support import Otel

from ._support import BadKeyError, GatedStore

NS = ("users", "u1")


@pytest.fixture
def otel() -> Iterator[Otel]:
    found = Otel()
    yield found
    found.close()


async def test_a_batch_links_the_operations_of_every_request(otel: Otel) -> None:
    telemetry = otel.telemetry()
    backing = GatedStore(InMemoryStore())
    tracer = otel.tracer_provider.get_tracer("callers")
    async with ActorSystem() as system:
        actor = StoreActor(backing, mailbox_size=16, telemetry=telemetry)
        store = ActorStore(await system.spawn(actor), backing, telemetry)

        async def caller(i: int) -> None:
            with tracer.start_as_current_span(f"caller {i}"):
                await store.aput(NS, f"k{i}", {"n": i})

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(caller, 0)
                await backing.entered.wait()  # caller 0's batch waits at the gate
                tg.start_soon(caller, 1)
                tg.start_soon(caller, 2)
                await anyio.wait_all_tasks_blocked()  # 1 and 2 wait in one batch
                backing.gate.set()
    assert backing.batch_sizes == [1, 2]
    puts = {s.attributes["actorgraph.store.key"]: s for s in otel.named("store put")}  # type: ignore[index]
    assert sorted(puts) == ["k0", "k1", "k2"]
    for i in range(3):
        assert otel.parent_of(puts[f"k{i}"]) == f"caller {i}"
    batches = sorted(otel.named("store batch"), key=lambda b: len(b.links))
    assert [b.attributes["db.operation.batch.size"] for b in batches] == [1, 2]  # type: ignore[index]
    assert [otel.parent_of(b) for b in batches] == [None, None]
    assert {link.context.span_id for link in batches[1].links} == {
        puts["k1"].context.span_id,
        puts["k2"].context.span_id,
    }
    # an operation's span runs from its request to its batch's end
    assert puts["k1"].start_time <= batches[1].start_time  # type: ignore[operator]
    assert puts["k1"].end_time == batches[1].end_time


async def test_a_failing_request_fails_its_own_span_only(otel: Otel) -> None:
    telemetry = otel.telemetry()
    backing = GatedStore(InMemoryStore(), bad_key="bad")
    async with ActorSystem() as system:
        actor = StoreActor(backing, mailbox_size=16, telemetry=telemetry)
        store = ActorStore(await system.spawn(actor), backing, telemetry)

        async def put(key: str) -> None:
            try:
                await store.aput(NS, key, {"n": 1})
            except BadKeyError:
                pass

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(put, "first")
                await backing.entered.wait()
                tg.start_soon(put, "good")
                tg.start_soon(put, "bad")
                await anyio.wait_all_tasks_blocked()
                backing.gate.set()
    # the batch of "good" and "bad" failed; each was then served on its own
    assert backing.batch_sizes == [1, 2, 1, 1]
    puts = {s.attributes["actorgraph.store.key"]: s for s in otel.named("store put")}  # type: ignore[index]
    assert puts["good"].status.status_code is StatusCode.UNSET
    assert puts["bad"].status.status_code is StatusCode.ERROR
    assert puts["bad"].attributes["error.type"] == "BadKeyError"  # type: ignore[index]
    failed = [
        b for b in otel.named("store batch") if b.status.status_code is StatusCode.ERROR
    ]
    assert sorted(b.attributes["actorgraph.store.requests"] for b in failed) == [1, 2]  # type: ignore[index,type-var]
    assert [
        len(b.links) for b in failed if b.attributes["actorgraph.store.requests"] == 2
    ] == [0]  # type: ignore[index]
    ((_, sizes),) = otel.metrics()["actorgraph.store.batch.size"]
    assert (sizes.count, sizes.sum) == (4, 5)
