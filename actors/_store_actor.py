"""``StoreActor``: one per store; turns concurrent requests into one batch.

Every run's ``store`` is an ``ActorStore`` whose ``abatch`` asks the store
actor. The actor takes one request, then everything else already queued (up
to ``max_batch`` operations), and sends all their operations to the backing
store in a single ``abatch`` call: one embeddings call and, on Redis, one
pipeline for the whole batch. If a batch fails, each request is retried on
its own so one bad request cannot fail its neighbours.

Up to ``max_in_flight`` batches (default 2) are at the backing store at
once: while one waits for Redis, the next is built and sent, so the process
does not sit idle for a round trip. Order is kept where it matters: a
request is answered only when its batch is done, so whatever a caller sends
after an answer goes in a later batch, sent after that one was applied.

A request that finds the actor idle (nothing queued, no batch in flight)
is served in the caller's own task, as the batch it would have been alone:
no mailbox, no task, no wake-ups (a conversation at a time is the common
case). It holds a batch slot meanwhile, so the actor's limit and order
hold. Cancelling the caller cancels such a request if it only reads
(searches, gets, namespace lists); one that writes is shielded, so it lands
whoever stops waiting, as a write queued to the actor does (the caller's
cancellation takes effect once it has).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, final

import anyio
import msgspec

from stores import BaseStore, GetOp, ListNamespacesOp, Op, Result, SearchOp
from stores._shared import SignalLike, ensure_op, new_signal

from ._actor import ActorRef, Envelope
from ._system import Actor
from ._telemetry import Telemetry, TracedOps


class StoreStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts of a store actor: requests, operations and backing batches."""

    requests: int
    ops: int
    batches: int
    queued: int


class StoreActor(Actor[list[Op]]):
    """Serves store requests from every thread in batches."""

    def __init__(
        self,
        store: BaseStore,
        *,
        mailbox_size: int,
        max_batch: int = 64,
        max_in_flight: int = 2,
        telemetry: Telemetry | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        super().__init__(f"store:{type(store).__name__}", mailbox_size=mailbox_size)
        self.store = store
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._slot_free: SignalLike | None = None  # set when a batch ends
        self._requests = self._ops = self._batches = 0
        self._telemetry = telemetry

    def statistics(self) -> StoreStats:
        """Requests, operations and batches served so far (never blocks)."""
        return StoreStats(
            requests=self._requests,
            ops=self._ops,
            batches=self._batches,
            queued=len(self.mailbox),
        )

    async def main(self) -> None:
        tel = self._telemetry
        if tel is not None:
            tel.forget_spawner()
            tel.metrics.stores.add(self)  # its mailbox depth is observed
        try:
            async with anyio.create_task_group() as batches:
                await self._take_batches(batches)
        finally:
            if tel is not None:
                tel.metrics.stores.discard(self)

    async def _take_batches(self, batches: anyio.abc.TaskGroup) -> None:
        while True:
            try:
                first = await self.mailbox.receive()
            except anyio.EndOfStream:
                return
            batch = [first]
            size = len(first.msg)
            while size < self._max_batch:
                try:
                    env = self.mailbox.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
                batch.append(env)
                size += len(env.msg)
            self._requests += len(batch)
            self._ops += size
            while self._in_flight >= self._max_in_flight:
                self._slot_free = new_signal()
                await self._slot_free.wait()
            self._in_flight += 1
            batches.start_soon(self._serve_in_flight, batch)

    async def _serve_in_flight(self, batch: list[Envelope[list[Op]]]) -> None:
        try:
            await self._serve(batch)
        finally:
            self._slot_done()

    def _slot_done(self) -> None:
        self._in_flight -= 1
        if self._slot_free is not None:
            self._slot_free.set()

    def idle_now(self) -> bool:
        """Nothing queued, no batch in flight, still running: a request may be served inline."""
        if self._in_flight or self._stopped.is_set():
            return False
        queue = self.mailbox.statistics()
        return not queue.depth and not queue.closed

    async def serve_inline(self, ops: list[Op]) -> list[Result]:
        """Serve ``ops`` (checked) in the caller's task, as a batch of one.

        Call only when ``idle_now()``. Raises what the backing store raises;
        cancelling the caller cancels the batch (the caller shields writes).
        """
        self._in_flight += 1
        self._requests += 1
        self._ops += len(ops)
        self._batches += 1
        try:
            return await self.store.abatch(ops)
        finally:
            self._slot_done()

    async def _serve(self, batch: list[Envelope[list[Op]]]) -> None:
        ops = [op for env in batch for op in env.msg]
        self._batches += 1
        tel = self._telemetry
        try:
            serving = self.store.abatch(ops)
            results = await (
                serving
                if tel is None
                else tel.batch(serving, batch, len(ops), type(self.store).__name__)
            )
        except Exception as exc:  # noqa: BLE001 -- per-message boundary: errors go to the askers
            if len(batch) == 1:
                batch[0].fail(exc)
                return
            for env in batch:  # isolate the failing request
                await self._serve([env])
            return
        start = 0
        for env in batch:
            end = start + len(env.msg)
            env.succeed(results[start:end])
            start = end


@final
class ActorStore(BaseStore):
    """The store a run sees: every call goes through the store actor's batches."""

    def __init__(
        self,
        ref: ActorRef[list[Op]],
        backing: BaseStore,
        telemetry: Telemetry | None = None,
        actor: StoreActor | None = None,
        start: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``actor``: the actor behind ``ref``, to serve requests inline when it
        is idle (not while tracing: the actor makes the operations' spans).
        ``start``: spawns that actor, awaited by the first request that must
        queue (None: it runs already). A conversation at a time never queues,
        so its process never starts the actor's task."""
        self._ref = ref
        self.backing = backing
        self._telemetry = telemetry
        self._actor = actor
        self._start = start

    def stop(self) -> None:
        """Stop the store actor; close its mailbox if its task never started (never blocks)."""
        self._ref.stop()
        if self._start is not None and self._actor is not None:
            self._start = None
            self._actor.mailbox.drain()  # nothing queued: queueing starts the task

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Queue ``ops`` as one request and wait for their results (in order).

        A read-only request served inline (see the module docstring) is
        cancelled with its caller; one that writes, or a queued one, is
        finished whoever stops waiting.
        """
        checked = [ensure_op(op) for op in ops]
        if not checked:
            return []
        actor = self._actor
        if self._telemetry is not None:  # the store actor makes their spans
            checked = TracedOps(checked)
        elif actor is not None and actor.idle_now():
            if all(type(op) in _READS for op in checked):
                return await actor.serve_inline(checked)
            return await _shielded(actor.serve_inline(checked))
        if self._start is not None:  # the first request to queue starts the actor
            start, self._start = self._start, None
            await start()
        results: Any = await self._ref.ask(checked)
        return results


_READS = frozenset({SearchOp, GetOp, ListNamespacesOp})


async def _shielded(serving: Awaitable[list[Result]]) -> list[Result]:
    # A write served inline lands whoever stops waiting, as a queued one does.
    with anyio.CancelScope(shield=True):
        return await serving
    raise AssertionError("unreachable: a shielded scope is never cancelled")
