"""``Entrypoint``: a decorated workflow whose runs are turns of thread actors.

The ``@entrypoint`` decorator that builds one is in ``_entrypoint_decorator``.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from typing import Any, final

from actors import ActorDeadError
from stores import BaseCache, BaseStore, CheckpointSaver

from ._ambient import call_host
from ._context import current_host, nested_emitter
from ._entry_names import register
from ._host import Runtime
from ._run_options import (
    prepare_config,
    reject_stream_kwargs,
)
from ._run_state import Durability, check_durability
from ._state_access import StateAccess
from ._stream import Emitter, normalize_modes, open_stream
from ._sync import hosted, iterate_sync, pumped, run_sync
from ._turn_build import build_turn, read_fork
from ._turns import EntrySpec


@final
class Entrypoint(StateAccess):
    """A decorated workflow: ``invoke``/``ainvoke``, ``stream``/``astream`` and state access."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        checkpointer: CheckpointSaver | None,
        store: BaseStore | None,
        name: str | None,
        cache: BaseCache | None = None,
        context_schema: type[Any] | None = None,
    ) -> None:
        self.spec = EntrySpec(fn, name or getattr(fn, "__name__", "entrypoint"))
        self.name = self.spec.name
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.context_schema = context_schema
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        register(self)  # reachable by name from other cluster members

    # -- running ---------------------------------------------------------

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        durability: Durability | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run on the thread named in ``config`` and return the result.

        Waits for earlier requests on the thread (strategy "enqueue").
        Returns ``{"__interrupt__": [...]}`` when the run was interrupted.
        ``durability`` says when finished tasks are stored (as in LangGraph):
        "async" (default) writes each behind while the run goes on, and a
        task that finishes just before the run commits is stored with the
        checkpoint; "sync" stores it before the run sees its result; "exit"
        only when the run ends, fails or is interrupted. Raises the run's
        error, ValueError for a bad config or durability, ThreadBusyError
        under strategy "reject". Cancelling the caller does not stop the run.
        ``context`` is the run's ``runtime.context``. A ``checkpoint_id`` in
        ``config`` that is not the latest forks the thread from that
        checkpoint (time travel). Called inside another run, the run is
        nested: with ``subgraphs=True`` on the outer stream its chunks reach
        the outer caller under a namespace.
        """
        reject_stream_kwargs(kwargs)
        durability = check_durability(durability)
        async with call_host(self.checkpointer, config) as host:
            return await self._ainvoke(host, input, config, context, durability)

    async def _ainvoke(
        self,
        host: Runtime,
        input: Any,
        config: Mapping[str, Any] | None,
        context: Any,
        durability: Durability,
    ) -> Any:
        thread_id, strategy, cfg = prepare_config(
            self.name, self.checkpointer, host, config
        )
        cfg["store"] = await host.store_for(self.store)
        emitter = nested_emitter(self.name)
        fork = await read_fork(self, thread_id, cfg)
        turn = build_turn(
            self, host, input, cfg, emitter, durability, context, strategy, fork
        )
        return await host.ask(self.checkpointer, thread_id, turn, strategy)

    async def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        durability: Durability | None = None,
        subgraphs: bool = False,
        **kwargs: Any,
    ) -> AsyncGenerator[Any]:
        """Run and yield what the run emits: bare chunks for one mode, ``(mode, chunk)`` for a list.

        Modes: "updates" (default), "values", "custom", "messages", "debug",
        "checkpoints", "tasks". ``subgraphs=True`` prefixes each item with
        its namespace, ``()`` for this run and ``("node:id", ...)`` for
        entrypoints invoked inside it: ``(ns, chunk)`` or ``(ns, mode, chunk)``.
        ``context`` and ``durability`` as for ``ainvoke``. Raises the run's
        error after the last chunk. Outside a Runtime the run's short-lived
        Runtime lives in a task of its own, never in this generator: leaving
        early (``break``, ``aclose()``, from any task) stops reading, not the
        run, and ``aclose()`` returns once that Runtime has let go (after
        the run ends). Close it (``contextlib.aclosing``) to wait for that.
        """
        reject_stream_kwargs(kwargs)
        modes, single = normalize_modes(stream_mode)
        durable = check_durability(durability)
        shape = (modes, single, subgraphs)
        host = current_host()
        if host is None:  # a short-lived Runtime, in a task of its own
            items = pumped(
                lambda: hosted(
                    self.checkpointer,
                    config,
                    lambda h: self._astream(h, input, config, context, shape, durable),
                )
            )
        else:
            items = self._astream(host, input, config, context, shape, durable)
        async with aclosing(items):
            async for item in items:
                yield item

    async def _astream(
        self,
        host: Runtime,
        input: Any,
        config: Mapping[str, Any] | None,
        context: Any,
        shape: tuple[tuple[str, ...], bool, bool],
        durability: Durability,
    ) -> AsyncGenerator[Any]:
        modes, single, subgraphs = shape
        thread_id, strategy, cfg = prepare_config(
            self.name, self.checkpointer, host, config
        )
        cfg["store"] = await host.store_for(self.store)
        while True:
            send, recv = open_stream()
            emitter = Emitter(send, frozenset(modes), subgraphs=subgraphs)
            fork = await read_fork(self, thread_id, cfg)
            turn = build_turn(
                self, host, input, cfg, emitter, durability, context, strategy, fork
            )
            reply = await host.send(self.checkpointer, thread_id, turn, strategy)
            reply.on_done(emitter.close)
            async with recv:
                async for ns, mode, chunk in recv:
                    item = chunk if single else (mode, chunk)
                    yield (
                        ((ns, *item) if not single else (ns, item))
                        if subgraphs
                        else item
                    )
            try:
                await reply.wait()
            except ActorDeadError as exc:
                if exc.retriable:
                    continue  # the actor passivated before starting it: send again
                raise
            return

    def invoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        durability: Durability | None = None,
        **kwargs: Any,
    ) -> Any:
        """Blocking twin of ``ainvoke``; blocks the calling thread only.

        From plain sync code or a thread that runs a loop of its own (a
        notebook cell, sync code called from asyncio or trio) the run goes to
        a short-lived Runtime on the process's shared sync loop; from a run's
        worker thread (a sync ``@task``) back to that run's loop and Runtime
        (see ``stores._sync.route``). Raises like ``ainvoke``; RuntimeError on
        the loop thread inside ``async with Runtime()``: await there.
        """
        reject_stream_kwargs(kwargs)  # fail fast, in the caller
        check_durability(durability)
        return run_sync(
            self.ainvoke, input, config, context=context, durability=durability
        )

    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        durability: Durability | None = None,
        subgraphs: bool = False,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Blocking twin of ``astream``: each item blocks until it arrives.

        Runs where ``invoke`` runs. Leaving early (``break``) stops reading,
        not the run: ``close()`` returns once the stream's Runtime has let
        go (a short-lived one after the run ends). Raises like ``invoke``,
        the run's error after the last chunk.
        """
        reject_stream_kwargs(kwargs)  # fail fast, in the caller
        modes, single = normalize_modes(stream_mode)
        durable = check_durability(durability)
        shape = (modes, single, subgraphs)
        return iterate_sync(
            lambda: hosted(
                self.checkpointer,
                config,
                lambda host: self._astream(
                    host, input, config, context, shape, durable
                ),
            ),
            "Entrypoint.astream",
        )

    def __repr__(self) -> str:
        return f"<entrypoint {self.name}>"
