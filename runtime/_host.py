"""``Runtime``: the host of every thread actor and store actor.

``async with Runtime() as rt:`` makes every entrypoint called inside the
block run on this host: thread actors stay warm between calls, idle ones are
passivated, and each store is fronted by one batching store actor. A call
made outside any Runtime runs in a short-lived one with the same semantics.
"""

from __future__ import annotations

import functools
import itertools
import types
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any, final

import anyio
import msgspec

from actors import (
    STRATEGIES,
    ActorStore,
    ActorSystem,
    Registry,
    RegistryStats,
    Reply,
    StoreActor,
    Strategy,
    Submit,
    ThreadActor,
    Turn,
)
from stores import BaseStore, CheckpointSaver
from stores._shared import bound_to_loop

from . import _telemetry
from ._cluster_stats import ClusterStats
from ._context import HOST_VAR, serving_loop
from ._fenced import FencedSaver, check_cluster
from ._gc import TuneGC, check_tune_gc, tuned_gc
from ._null_saver import NullSaver
from ._tracing import Tracing, telemetry_for

if TYPE_CHECKING:
    from ._cluster import ClusterNode

_EPHEMERAL = itertools.count()


class RuntimeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Warm thread actors per checkpointer and store-actor counts."""

    threads: list[RegistryStats]
    store_requests: int
    store_batches: int
    cluster: ClusterStats | None = None


@final
class Runtime(anyio.AsyncContextManagerMixin):
    """Hosts thread actors and store actors for the entrypoints called inside it.

    Args:
        max_active_threads: warm thread actors kept per checkpointer; past it
            the least recently used idle ones are passivated.
        idle_timeout: seconds after which an idle thread actor passivates.
        mailbox_size: bound of every actor mailbox (callers wait when full).
        multitask_strategy: default for a request on a busy thread:
            "enqueue", "reject", "interrupt" or "rollback".
        max_store_batch: most store operations sent to a store in one batch
            (64: larger batches keep the turns of a burst in lockstep, each
            waiting for the whole burst; see bench/NOTES.md).
        max_sync_threads: worker threads for sync tasks (sync entrypoint
            bodies have their own pool, so they cannot starve their tasks).
        tune_gc: Python's cyclic collector while Runtimes run (process-wide,
            restored when the last one exits; see ``runtime/_gc.py``). False
            (default): left alone. "aligned": CPython 3.13's young-generation
            threshold (2,000) where the interpreter still has the pre-3.13
            one (700), +25% turns/s at C=1,000. True: freeze the start-up
            heap and raise the thresholds much further, for services that
            keep thousands of threads warm.
        serve_loop: also host entrypoint calls made on this event loop from
            tasks that do not run inside this block (True, the default): a
            web framework enters the Runtime in its lifespan and runs each
            request in a task of its own, which does not inherit that
            context. The innermost such Runtime still running wins; calls
            inside a block always use that block's Runtime.
        cluster: a Redis url (True: ``REDIS_URL``) to join the Runtimes of
            every process on it into one thread space (README, "Cluster").
        cluster_shards: virtual shards of the thread space (the same in
            every member).
        lease_time: seconds a dead member keeps its shards (the failover
            time); members renew every quarter of it.
        cluster_prefix: the first part of the cluster's Redis keys.
        tracing: OpenTelemetry spans and metrics (see README, "Observability").
            None (default): on when the standard ``OTEL_*`` environment names
            an exporter or endpoint; True: on; False: off; ``Tracing(...)``:
            on, with these providers and content switch. Off costs nothing.

    Raises ValueError for a bad option, RuntimeError when tracing is asked
    for and there is neither a provider nor the SDK (``actorgraph[otel]``).

    Leaving the block stops every actor: a running request finishes, queued
    ones fail with ActorDeadError. Using the Runtime again raises RuntimeError.
    """

    def __class_getitem__(cls, item: Any) -> Any:
        """``Runtime[Context]``: LangGraph's annotation for an injected ``runtime`` parameter.

        The parameter receives an ``InjectedRuntime``; see runtime/_injected.py.
        """
        return types.GenericAlias(cls, item)

    def __init__(
        self,
        *,
        max_active_threads: int = 10_000,
        idle_timeout: float = 300.0,
        mailbox_size: int = 128,
        multitask_strategy: Strategy = "enqueue",
        max_store_batch: int = 64,
        max_sync_threads: int = 64,
        tune_gc: TuneGC = False,
        serve_loop: bool = True,
        tracing: bool | Tracing | None = None,
        cluster: str | bool | None = None,
        cluster_shards: int = 64,
        lease_time: float = 3.0,
        cluster_prefix: str = "actorgraph:cluster",
    ) -> None:
        if multitask_strategy not in STRATEGIES:
            raise ValueError(
                f"multitask_strategy must be one of {STRATEGIES}, got {multitask_strategy!r}"
            )
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout!r}")
        self.max_active_threads = max_active_threads
        self.idle_timeout = idle_timeout
        self.mailbox_size = mailbox_size
        self.multitask_strategy: Strategy = multitask_strategy
        self.max_store_batch = max_store_batch
        self._max_sync_threads = max_sync_threads
        self._tune_gc: TuneGC = check_tune_gc(tune_gc)
        self._serve_loop = serve_loop
        self.telemetry = telemetry_for(tracing)
        """Spans and metrics of this Runtime's runs and actors; None when tracing is off."""
        self._cluster_url = check_cluster(cluster, cluster_shards, lease_time)
        self._cluster_args = (cluster_shards, lease_time, cluster_prefix)
        self._cluster: ClusterNode | None = None
        self._system: ActorSystem | None = None
        self._threads: dict[int, Registry[str, Submit]] = {}
        self._stores: dict[int, tuple[StoreActor, ActorStore]] = {}
        self._null_saver = NullSaver()
        self._used = False
        self.task_limiter: anyio.CapacityLimiter | None = None
        self.body_limiter: anyio.CapacityLimiter | None = None

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Runtime]:
        if self._used:
            raise RuntimeError("a Runtime can be used once; create a new one")
        self._used = True
        self.task_limiter = anyio.CapacityLimiter(self._max_sync_threads)
        self.body_limiter = anyio.CapacityLimiter(max(self._max_sync_threads * 4, 64))
        traced = self.telemetry is not None
        _telemetry.active += traced
        try:
            with tuned_gc(self._tune_gc):
                async with self._hosting() as host:
                    yield host
        finally:
            _telemetry.active -= traced

    @asynccontextmanager
    async def _hosting(self) -> AsyncGenerator[Runtime]:
        async with ActorSystem() as system:
            self._system = system
            token = HOST_VAR.set(self)
            try:
                # Sync twins called in this context run on this loop (see
                # stores._sync.route): its actors live here.
                with (
                    bound_to_loop("a Runtime", self.start_soon),
                    serving_loop(self) if self._serve_loop else nullcontext(),
                ):
                    if self._cluster_url is None:
                        yield self
                    else:
                        from ._cluster import joined  # the cluster loads only here

                        shards, lease, prefix = self._cluster_args
                        async with joined(
                            self,
                            self._cluster_url,
                            shards=shards,
                            lease_time=lease,
                            prefix=prefix,
                        ) as self._cluster:
                            yield self
            finally:
                HOST_VAR.reset(token)
                for registry in self._threads.values():
                    registry.stop_all()
                for _, front in self._stores.values():
                    front.stop()
        self._system = None

    def _require_system(self) -> ActorSystem:
        if self._system is None or self._system.closed:
            raise RuntimeError(
                "this Runtime is not running; call entrypoints inside 'async with Runtime()'"
            )
        return self._system

    def _registry(self, saver: CheckpointSaver) -> Registry[str, Submit]:
        registry = self._threads.get(id(saver))
        if registry is None:
            system = self._require_system()

            # A thread without a checkpointer has no checkpoint I/O to trace.
            telemetry = None if saver is self._null_saver else self.telemetry
            actor_saver = (
                saver if self._cluster is None else FencedSaver(saver, self._cluster)
            )

            def factory(thread_id: str, release: Any) -> ThreadActor:
                return ThreadActor(
                    thread_id,
                    actor_saver,
                    mailbox_size=self.mailbox_size,
                    idle_timeout=self.idle_timeout,
                    on_release=release,
                    telemetry=telemetry,
                )

            registry = self._threads[id(saver)] = Registry(
                system, factory, max_active=self.max_active_threads
            )
        return registry

    def start_soon(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
        name: object = None,
    ) -> None:
        """Run ``fn(*args)`` as a helper task of this Runtime (a run's own tasks).

        Allowed while the Runtime shuts down, as runs still going finish.
        """
        if self._system is None:
            raise RuntimeError("this Runtime is not running")
        self._system.start_soon(fn, *args, name=name)

    def built_store(self, store: BaseStore) -> ActorStore | None:
        """The batching front of ``store`` if ``store_for`` built it already (never blocks)."""
        entry = self._stores.get(id(store))
        return None if entry is None else entry[1]

    async def store_for(self, store: BaseStore | None) -> ActorStore | None:
        """The batching front of ``store`` (one store actor per store), or None."""
        if store is None:
            return None
        entry = self._stores.get(id(store))
        if entry is None:
            system = self._require_system()
            actor = StoreActor(
                store,
                mailbox_size=max(self.mailbox_size, 1024),
                max_batch=self.max_store_batch,
                telemetry=self.telemetry,
            )
            # Its task starts with the first request that has to queue (one
            # served inline needs none): the first turn of a process pays no
            # spawn, and one conversation at a time never does.
            start = functools.partial(system.spawn, actor)
            front = ActorStore(actor.ref, store, self.telemetry, actor, start)
            entry = self._stores[id(store)] = (actor, front)
        return entry[1]

    async def ask(
        self,
        saver: CheckpointSaver | None,
        thread_id: str | None,
        turn: Turn,
        strategy: Strategy,
    ) -> Any:
        """Run ``turn`` on the thread and return its reply (the turn's result or error)."""
        if self._cluster is not None and saver is not None and thread_id is not None:
            return await self._cluster.ask(saver, thread_id, turn, strategy)
        saver, key, ephemeral = self._route(saver, thread_id)
        registry = self._registry(saver)
        try:
            return await registry.ask(key, Submit(turn, strategy))
        finally:
            if ephemeral:
                registry.discard(key)

    async def send(
        self,
        saver: CheckpointSaver | None,
        thread_id: str | None,
        turn: Turn,
        strategy: Strategy,
    ) -> Reply:
        """Queue ``turn`` on the thread and return its reply slot (for streaming callers)."""
        if self._cluster is not None and saver is not None and thread_id is not None:
            return await self._cluster.send(saver, thread_id, turn, strategy)
        return await self.local_send(saver, thread_id, turn, strategy)

    async def local_send(
        self,
        saver: CheckpointSaver | None,
        thread_id: str | None,
        turn: Turn,
        strategy: Strategy,
    ) -> Reply:
        """``send`` to this process's actor of the thread, clustered or not."""
        saver, key, ephemeral = self._route(saver, thread_id)
        registry = self._registry(saver)
        reply = await registry.send(key, Submit(turn, strategy))
        if ephemeral:
            reply.on_done(lambda: registry.discard(key))
        return reply

    def local_send_nowait(
        self, saver: CheckpointSaver, thread_id: str, turn: Turn, strategy: Strategy
    ) -> Reply | None:
        """``local_send`` to a warm actor without waiting; None if that would wait."""
        registry = self._threads.get(id(saver))
        return (
            None
            if registry is None
            else registry.send_nowait(thread_id, Submit(turn, strategy))
        )

    def _route(
        self, saver: CheckpointSaver | None, thread_id: str | None
    ) -> tuple[CheckpointSaver, str, bool]:
        if (
            saver is None
        ):  # nothing persists: a fresh actor per call, as without a checkpointer in LangGraph
            return self._null_saver, f"ephemeral-{next(_EPHEMERAL)}", True
        assert thread_id is not None
        return saver, thread_id, False

    def thread_registries(self) -> list[Registry[str, Submit]]:
        """The registries of thread actors, one per checkpointer."""
        return list(self._threads.values())

    def statistics(self) -> RuntimeStats:
        """Warm threads per checkpointer, store batching and cluster counts (never blocks)."""
        stats = [actor.statistics() for actor, _ in self._stores.values()]
        return RuntimeStats(
            threads=[r.statistics() for r in self._threads.values()],
            store_requests=sum(s.requests for s in stats),
            store_batches=sum(s.batches for s in stats),
            cluster=None if self._cluster is None else self._cluster.statistics(),
        )
