"""The runtime's implicit state: one ContextVar per concern, nothing else.

- ``HOST_VAR``: the ``Runtime`` that hosts calls made in this context (else
  the innermost running Runtime entered on this event loop with
  ``serve_loop=True``: a web framework runs request handlers in tasks that
  do not inherit the context of the lifespan that entered the Runtime);
- ``RUN_VAR``: the run being executed (config, store, stream, task scheduler);
- ``SCOPE_VAR``: the call being executed inside that run (entrypoint body or
  task), which numbers its child task calls and interrupts deterministically;
- ``INJECTED_VAR``: the run's LangGraph-style ``runtime`` object (context,
  store, writer, previous), set for the body and inherited by its tasks.

``get_config``, ``get_store`` and ``get_stream_writer`` read them for users.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._stream import NO_EMITTER, Emitter

if TYPE_CHECKING:
    from stores import BaseStore

    from ._host import Runtime
    from ._injected import InjectedRuntime
    from ._run_state import RunState


class CallScope:
    """One entrypoint-body or task invocation inside a run."""

    __slots__ = ("calls", "interrupts", "name", "task_id")

    def __init__(self, task_id: str, name: str) -> None:
        self.task_id = task_id
        self.name = name
        self.calls = 0
        self.interrupts = 0

    def next_call_id(self) -> str:
        """The deterministic id of this scope's next task call."""
        n = self.calls
        self.calls += 1
        return f"{self.task_id}/{n}" if self.task_id else str(n)

    def next_interrupt_key(self) -> str:
        """The deterministic key of this scope's next interrupt call."""
        n = self.interrupts
        self.interrupts += 1
        return f"{self.task_id}#{n}"


HOST_VAR: ContextVar[Runtime | None] = ContextVar("actorgraph_host", default=None)
RUN_VAR: ContextVar[RunState | None] = ContextVar("actorgraph_run", default=None)
SCOPE_VAR: ContextVar[CallScope | None] = ContextVar("actorgraph_scope", default=None)
INJECTED_VAR: ContextVar[InjectedRuntime[Any] | None] = ContextVar(
    "actorgraph_injected", default=None
)


_LOOP_HOSTS: dict[object, list[Runtime]] = {}
"""Event loop (its native token) -> running Runtimes that serve it, innermost last."""


def current_host() -> Runtime | None:
    """The Runtime hosting this context, else the one serving this event loop, if any."""
    host = HOST_VAR.get()
    if host is None and _LOOP_HOSTS:
        try:
            loop = anyio.lowlevel.current_token().native_token
        except anyio.NoEventLoopError:  # sync code: no loop to serve
            return None
        hosts = _LOOP_HOSTS.get(loop)
        host = hosts[-1] if hosts else None
    return host


@contextmanager
def serving_loop(host: Runtime) -> Generator[None]:
    """Make ``host`` the Runtime of calls on this loop made outside its context."""
    loop = anyio.lowlevel.current_token().native_token
    hosts = _LOOP_HOSTS.setdefault(loop, [])
    hosts.append(host)
    try:
        yield
    finally:
        hosts.remove(host)
        if not hosts:
            del _LOOP_HOSTS[loop]


def current_run(what: str) -> tuple[RunState, CallScope]:
    """The run and call scope executing now; RuntimeError naming ``what`` outside a run."""
    run, scope = RUN_VAR.get(), SCOPE_VAR.get()
    if run is None or scope is None:
        raise RuntimeError(
            f"{what} was called outside a run: call it from inside an @entrypoint "
            "function (or a @task it calls)"
        )
    return run, scope


def current_injected(what: str) -> InjectedRuntime[Any]:
    """The run's ``InjectedRuntime``; RuntimeError naming ``what`` outside a run."""
    injected = INJECTED_VAR.get()
    if injected is None or RUN_VAR.get() is None:
        raise RuntimeError(
            f"{what} was called outside a run: call it from inside an @entrypoint "
            "function (or a @task it calls)"
        )
    return injected


def get_config() -> Mapping[str, Any]:
    """The current run's config (``{"configurable": {...}, "store": ...}``).

    Raises RuntimeError outside a run.
    """
    return current_run("get_config()")[0].config


def get_store() -> BaseStore:
    """The current run's store (batched through the store actor).

    Raises RuntimeError outside a run, or if the entrypoint has no store.
    """
    store = current_run("get_store()")[0].store
    if store is None:
        raise RuntimeError("this entrypoint has no store: pass @entrypoint(store=...)")
    return store


def get_stream_writer() -> Callable[[Any], None]:
    """The current run's ``writer``: ``writer(x)`` emits ``x`` in stream mode "custom".

    Never blocks. Raises RuntimeError outside a run.
    """
    return current_run("get_stream_writer()")[0].writer


def nested_emitter(name: str) -> Emitter:
    """The emitter for entrypoint ``name`` invoked now: a child of the current run's, or none.

    Its namespace label is LangGraph's ``"node:id"``, for the body or task
    that invokes it.
    """
    run, scope = RUN_VAR.get(), SCOPE_VAR.get()
    if run is None:
        return NO_EMITTER
    del name  # LangGraph labels a nested run by where it is called, not by its name
    node = scope.name if scope is not None else run.name
    where = f"{run.run_id}/{scope.task_id}" if scope and scope.task_id else run.run_id
    return run.emitter.child(f"{node}:{where}")


def _emitter() -> Emitter | None:
    run = RUN_VAR.get()
    return run.emitter if run is not None else None


def wants_messages() -> bool:
    """True when the current run was asked for stream mode "messages"."""
    emitter = _emitter()
    return emitter is not None and emitter.wants("messages")


async def emit_message(chunk: Any) -> None:
    """Send a chat-model chunk to stream mode "messages" (no-op outside a run)."""
    run, scope = RUN_VAR.get(), SCOPE_VAR.get()
    if run is None or not run.emitter.wants("messages"):
        return
    node = scope.name if scope is not None else run.name
    metadata = {
        "thread_id": run.thread_id,
        "run_id": run.run_id,
        "langgraph_node": node,
        "task_id": scope.task_id if scope is not None else "",
    }
    run.emitter.emit("messages", (chunk, metadata))
