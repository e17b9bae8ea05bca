"""``@entrypoint``: a workflow whose runs are turns of thread actors."""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from typing import Any, final

from actors import STRATEGIES, ActorDeadError, Strategy
from stores import BaseStore, Checkpoint, CheckpointSaver

from ._context import current_host
from ._host import Runtime
from ._run_state import Durability, check_durability
from ._stream import NO_EMITTER, Emitter, normalize_modes, open_stream
from ._sync import iterate_sync, run_sync
from ._turns import EntrySpec, RunTurn, UpdateTurn
from ._types import EntrypointFinal, StateSnapshot
from ._views import history_snapshots, snapshot_of
from ._wire import Request, decode_input, register


class entrypoint:
    """Decorate a workflow: ``@entrypoint(checkpointer=..., store=..., name=...)``.

    The function takes the input first; ``previous``, ``store``, ``config``
    and ``writer`` are injected when it declares them. Return a value, or
    ``entrypoint.final(value=..., save=...)`` to return ``value`` and keep
    ``save`` as the next run's ``previous``.
    """

    final = EntrypointFinal

    def __init__(
        self,
        checkpointer: CheckpointSaver | None = None,
        store: BaseStore | None = None,
        name: str | None = None,
    ) -> None:
        if checkpointer is not None and not hasattr(checkpointer, "acommit"):
            raise TypeError(
                f"checkpointer must be a checkpointer such as MemorySaver() or RedisSaver(), got {checkpointer!r}"
            )
        if store is not None and not isinstance(store, BaseStore):
            raise TypeError(
                f"store must be a BaseStore such as InMemoryStore(), got {store!r}"
            )
        self.checkpointer = checkpointer
        self.store = store
        self.name = name

    def __call__(self, fn: Callable[..., Any]) -> Entrypoint:
        """Wrap ``fn``; raises TypeError if it does not take an input first."""
        return Entrypoint(
            fn, checkpointer=self.checkpointer, store=self.store, name=self.name
        )


@final
class Entrypoint:
    """A decorated workflow: ``invoke``/``ainvoke``, ``stream``/``astream`` and state access."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        checkpointer: CheckpointSaver | None,
        store: BaseStore | None,
        name: str | None,
    ) -> None:
        self.spec = EntrySpec(fn, name or getattr(fn, "__name__", "entrypoint"))
        self.name = self.spec.name
        self.checkpointer = checkpointer
        self.store = store
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__
        register(self)  # reachable by name from other cluster members

    # -- running ---------------------------------------------------------

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        durability: Durability | None = None,
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
        """
        durability = check_durability(durability)
        host = current_host()
        if host is None:
            async with Runtime() as host:
                return await self._ainvoke(host, input, config, durability)
        return await self._ainvoke(host, input, config, durability)

    async def _ainvoke(
        self,
        host: Runtime,
        input: Any,
        config: Mapping[str, Any] | None,
        durability: Durability,
    ) -> Any:
        thread_id, strategy, cfg = self._prepare(host, config)
        store = await host.store_for(self.store)
        cfg["store"] = store
        turn = self._turn(host, input, cfg, store, NO_EMITTER, durability)
        return await host.ask(self.checkpointer, thread_id, turn, strategy)

    async def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        durability: Durability | None = None,
    ) -> AsyncGenerator[Any]:
        """Run and yield what the run emits: bare chunks for one mode, ``(mode, chunk)`` for a list.

        Modes: "updates" (default), "values", "custom", "messages", "debug".
        ``durability`` as for ``ainvoke``. Raises the run's error after the
        last chunk. Outside a Runtime, consume the iterator fully or close it
        (``contextlib.aclosing``).
        """
        modes, single = normalize_modes(stream_mode)
        durable = check_durability(durability)
        host = current_host()
        if host is None:
            async with (
                Runtime() as host,
                aclosing(
                    self._astream(host, input, config, modes, single, durable)
                ) as items,
            ):
                async for item in items:
                    yield item
            return
        async with aclosing(
            self._astream(host, input, config, modes, single, durable)
        ) as items:
            async for item in items:
                yield item

    async def _astream(
        self,
        host: Runtime,
        input: Any,
        config: Mapping[str, Any] | None,
        modes: tuple[str, ...],
        single: bool,
        durability: Durability,
    ) -> AsyncGenerator[Any]:
        thread_id, strategy, cfg = self._prepare(host, config)
        store = await host.store_for(self.store)
        cfg["store"] = store
        while True:
            send, recv = open_stream()
            emitter = Emitter(send, frozenset(modes))
            turn = self._turn(host, input, cfg, store, emitter, durability)
            reply = await host.send(self.checkpointer, thread_id, turn, strategy)
            reply.on_done(emitter.close)
            async with recv:
                async for mode, chunk in recv:
                    yield chunk if single else (mode, chunk)
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
        durability: Durability | None = None,
    ) -> Any:
        """Blocking twin of ``ainvoke``."""
        check_durability(durability)  # fail fast, in the caller
        return run_sync(self.ainvoke, input, config, durability=durability)

    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        durability: Durability | None = None,
    ) -> Iterator[Any]:
        """Blocking twin of ``astream`` (runs the stream on a private event loop)."""
        normalize_modes(stream_mode)  # fail fast, in the caller
        check_durability(durability)
        return iterate_sync(
            lambda: self.astream(
                input, config, stream_mode=stream_mode, durability=durability
            )
        )

    def _turn(
        self,
        host: Runtime,
        input: Any,
        cfg: dict[str, Any],
        store: BaseStore | None,
        emitter: Emitter,
        durability: Durability,
    ) -> RunTurn:
        assert host.task_limiter is not None
        assert host.body_limiter is not None
        return RunTurn(
            self.spec,
            input,
            config=cfg,
            store=store,
            emitter=emitter,
            limiter=host.task_limiter,
            body_limiter=host.body_limiter,
            start_soon=host.start_soon,
            durability=durability,
        )

    async def remote_turn(self, host: Runtime, request: Request) -> tuple[Any, Any]:
        """The turn of a request forwarded by another cluster member, and its chunk stream."""
        from ._forward import open_remote_stream
        from ._serde import loads

        if request.kind == "update":
            as_node = loads(request.config)["as_node"]
            turn: Any = UpdateTurn(loads(request.input), as_node, self.name)
            turn.request_id = request.id
            return turn, None
        cfg = loads(request.config)
        store = await host.store_for(self.store)
        cfg["store"] = store
        emitter, recv = open_remote_stream(request.modes)
        value = decode_input(request.input, request.resume)
        durability = check_durability(request.durability)
        turn = self._turn(host, value, cfg, store, emitter, durability)
        turn.request_id = request.id
        return turn, recv

    def _prepare(
        self, host: Runtime | None, config: Mapping[str, Any] | None
    ) -> tuple[str | None, Strategy, dict[str, Any]]:
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(
                f"config must be a mapping like {{'configurable': {{'thread_id': ...}}}}, got {config!r}"
            )
        cfg = dict(config or {})
        configurable = dict(cfg.get("configurable") or {})
        thread_id = configurable.get("thread_id")
        if thread_id is None and self.checkpointer is not None:
            raise ValueError(
                f"entrypoint {self.name!r} has a checkpointer, so it needs a thread id: "
                "pass config={'configurable': {'thread_id': '...'}}"
            )
        if thread_id is not None:
            if not isinstance(thread_id, str | int) or thread_id == "":
                raise ValueError(
                    f"thread_id must be a non-empty string, got {thread_id!r}"
                )
            thread_id = configurable["thread_id"] = str(thread_id)
        cfg["configurable"] = configurable
        strategy = cfg.get("multitask_strategy") or (
            host.multitask_strategy if host else "enqueue"
        )
        if strategy not in STRATEGIES:
            raise ValueError(
                f"multitask_strategy must be one of {STRATEGIES}, got {strategy!r}"
            )
        return thread_id, strategy, cfg

    # -- state -------------------------------------------------------------

    def _saver_and_thread(
        self, config: Mapping[str, Any] | None, what: str
    ) -> tuple[CheckpointSaver, str, dict[str, Any]]:
        if self.checkpointer is None:
            raise ValueError(
                f"{what} needs a checkpointer: use @entrypoint(checkpointer=MemorySaver())"
            )
        _, _, cfg = self._prepare(None, config)
        thread_id = cfg["configurable"]["thread_id"]
        return self.checkpointer, thread_id, cfg["configurable"]

    async def aget_state(self, config: Mapping[str, Any]) -> StateSnapshot:
        """The thread's latest state (or the one at ``configurable.checkpoint_id``).

        Reads the checkpointer directly; raises ValueError without a checkpointer or thread id.
        """
        saver, thread_id, configurable = self._saver_and_thread(config, "get_state")
        checkpoint_id = configurable.get("checkpoint_id")
        if checkpoint_id is not None:
            checkpoint = await saver.aget(thread_id, str(checkpoint_id))
            parent = (
                await saver.aget(thread_id, checkpoint.parent_id)
                if checkpoint and checkpoint.parent_id
                else None
            )
            return snapshot_of(self.name, thread_id, checkpoint, None, [], parent)
        state = await saver.aload(thread_id)
        return snapshot_of(
            self.name, thread_id, state.latest, state.run, state.records, None
        )

    def get_state(self, config: Mapping[str, Any]) -> StateSnapshot:
        """Blocking twin of ``aget_state``."""
        return run_sync(self.aget_state, config)

    async def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        limit: int | None = None,
        before: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """The thread's checkpoints, newest first."""
        for snap in await self._history(config, limit, before):
            yield snap

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        limit: int | None = None,
        before: Mapping[str, Any] | None = None,
    ) -> Iterator[StateSnapshot]:
        """Blocking twin of ``aget_state_history``."""
        return iter(run_sync(self._history, config, limit, before))

    async def _history(
        self,
        config: Mapping[str, Any],
        limit: int | None,
        before: Mapping[str, Any] | None,
    ) -> list[StateSnapshot]:
        saver, thread_id, _ = self._saver_and_thread(config, "get_state_history")
        before_version: int | None = None
        if before is not None:
            before_id = (before.get("configurable") or {}).get("checkpoint_id")
            anchor = await saver.aget(thread_id, str(before_id)) if before_id else None
            if anchor is None:
                raise ValueError(
                    f"before= names no checkpoint of thread {thread_id!r}: {before!r}"
                )
            before_version = anchor.version
        checkpoints: list[Checkpoint] = await saver.alist(
            thread_id, limit=limit, before=before_version
        )
        return history_snapshots(self.name, thread_id, checkpoints)

    async def aupdate_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Make ``values`` the thread's state and the next run's ``previous``.

        Queued behind the thread's runs. Returns the new checkpoint's config.
        """
        saver, thread_id, _ = self._saver_and_thread(config, "update_state")
        turn = UpdateTurn(values, as_node, self.name)
        host = current_host()
        if host is None:
            async with Runtime() as host:
                checkpoint: Checkpoint = await host.ask(
                    saver, thread_id, turn, "enqueue"
                )
        else:
            checkpoint = await host.ask(saver, thread_id, turn, "enqueue")
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_id": checkpoint.checkpoint_id,
            }
        }

    def update_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Blocking twin of ``aupdate_state``."""
        return run_sync(self.aupdate_state, config, values, as_node)

    def __repr__(self) -> str:
        return f"<entrypoint {self.name}>"
