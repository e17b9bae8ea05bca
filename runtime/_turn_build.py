"""Building a run's turn: for a local call, and for a request another cluster member forwarded.

A forwarded request's turn is built as a local call builds it, from the
request's input, config and modes; the request id goes into the commit's
metadata (a redelivered request is answered from that checkpoint).
``remote_turn_nowait`` builds it without waiting when it can (no fork to
read, the store's front built), so the owner hands a request to a warm
actor without a task of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ._injected import coerce_context
from ._propagation import trace_context
from ._run_options import prepare_config, run_metadata
from ._run_state import check_durability
from ._serde import loads
from ._stream import NO_EMITTER, Emitter, open_stream
from ._telemetry import TracedTurn
from ._turns import RunTurn, UpdateTurn

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from actors import Strategy
    from stores import Checkpoint

    from ._entrypoint import Entrypoint
    from ._host import Runtime
    from ._run_state import Durability
    from ._stream import Event
    from ._wire import Request

AnyTurn = RunTurn | TracedTurn | UpdateTurn


def build_turn(
    ep: Entrypoint,
    host: Runtime,
    input: Any,
    cfg: dict[str, Any],
    emitter: Emitter,
    durability: Durability,
    context: Any,
    strategy: Strategy,
    fork: Checkpoint | None,
) -> RunTurn | TracedTurn:
    """The turn of a run of ``ep`` on ``host`` (its store front in ``cfg["store"]``)."""
    assert host.task_limiter is not None
    assert host.body_limiter is not None
    turn = RunTurn(
        ep.spec,
        input,
        config=cfg,
        store=cfg["store"],
        emitter=emitter,
        limiter=host.task_limiter,
        body_limiter=host.body_limiter,
        start_soon=host.start_soon,
        durability=durability,
        context=coerce_context(ep.context_schema, context),
        fork=fork,
        metadata=run_metadata(cfg),
        checkpoint_ns="|".join(emitter.namespace),
        cache=ep.cache,
        telemetry=host.telemetry,
    )
    if host.telemetry is None:
        return turn
    return TracedTurn(turn, host.telemetry, strategy)


async def read_fork(
    ep: Entrypoint, thread_id: str | None, cfg: dict[str, Any]
) -> Checkpoint | None:
    """The checkpoint a run forks from (``checkpoint_id`` in ``cfg``), or None.

    Raises:
        ValueError: ``checkpoint_id`` names no checkpoint of the thread.
    """
    checkpoint_id = cfg["configurable"].get("checkpoint_id")
    if checkpoint_id is None or ep.checkpointer is None:
        return None
    assert thread_id is not None
    fork = await ep.checkpointer.aget(thread_id, str(checkpoint_id))
    if fork is None:
        raise ValueError(
            f"checkpoint_id {checkpoint_id!r} names no checkpoint of thread "
            f"{thread_id!r}; list them with get_state_history(config)"
        )
    return fork


async def remote_turn(
    ep: Entrypoint, host: Runtime, request: Request
) -> tuple[AnyTurn, MemoryObjectReceiveStream[Event] | None]:
    """The turn of a forwarded request, and its event stream (None without modes).

    Raises:
        ValueError: for a bad config, durability or checkpoint id.
    """
    cfg: dict[str, Any] = loads(request.config)
    fork = None
    if request.kind != "update":
        cfg = prepare_config(ep.name, ep.checkpointer, host, cfg)[2]
        cfg["store"] = await host.store_for(ep.store)
        fork = await read_fork(ep, request.thread_id, cfg)
    return _remote(ep, host, request, cfg, fork)


def remote_turn_nowait(
    ep: Entrypoint, host: Runtime, request: Request
) -> AnyTurn | None:
    """``remote_turn`` of a request without stream modes if it needs no wait, else None.

    Raises:
        ValueError: for a bad config or durability.
    """
    cfg: dict[str, Any] = loads(request.config)
    if request.kind != "update":
        cfg = prepare_config(ep.name, ep.checkpointer, host, cfg)[2]
        if cfg["configurable"].get("checkpoint_id") is not None:
            return None  # a fork is read first
        store = None if ep.store is None else host.built_store(ep.store)
        if store is None and ep.store is not None:
            return None  # its front is built first
        cfg["store"] = store
    return _remote(ep, host, request, cfg, None)[0]


def _remote(
    ep: Entrypoint,
    host: Runtime,
    request: Request,
    cfg: dict[str, Any],
    fork: Checkpoint | None,
) -> tuple[AnyTurn, MemoryObjectReceiveStream[Event] | None]:
    from ._wire import decode_input  # cluster code: loaded by now

    if request.kind == "update":
        update = UpdateTurn(loads(request.input), cfg.get("as_node"), ep.name)
        update.request_id = request.id
        return update, None
    emitter, recv = open_remote_stream(request.modes, request.subgraphs)
    with trace_context(request.trace):  # the caller's span is the run's parent
        turn = build_turn(
            ep,
            host,
            decode_input(request.input, request.resume),
            cfg,
            emitter,
            check_durability(request.durability),
            loads(request.context) if request.context else None,
            cast("Strategy", request.strategy),
            fork,
        )
    run = turn.turn if isinstance(turn, TracedTurn) else turn
    run.metadata["request_id"] = request.id
    run.trace = request.trace
    return turn, recv


def open_remote_stream(
    modes: list[str], subgraphs: bool
) -> tuple[Emitter, MemoryObjectReceiveStream[Event] | None]:
    """The emitter of a forwarded run and the stream its pump reads (None without modes)."""
    if not modes:
        return NO_EMITTER, None
    send, recv = open_stream()
    return Emitter(send, frozenset(modes), subgraphs=subgraphs), recv
