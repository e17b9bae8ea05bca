"""Stream modes: what a run emits and how callers receive it.

A run emits ``(namespace, mode, chunk)`` events into one memory stream per
request; only the modes the caller asked for are sent. ``namespace`` is
``()`` for the run the caller started; an entrypoint invoked inside it,
when the caller asked for ``subgraphs=True``, emits into the same stream
under ``("parent_node:id", ...)`` (LangGraph's subgraph namespaces). The buffer is unbounded on
purpose: ``writer(x)`` is a plain (sync) callable, as in LangGraph, so it
cannot wait for a slow reader.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

MODES = frozenset(
    {"values", "updates", "custom", "messages", "debug", "checkpoints", "tasks"}
)
Namespace = tuple[str, ...]
Event = tuple[Namespace, str, Any]


def normalize_modes(
    stream_mode: str | Sequence[str] | None,
) -> tuple[tuple[str, ...], bool]:
    """The requested modes and whether the caller asked for one mode (bare chunks).

    Raises ValueError naming an unknown mode.
    """
    if stream_mode is None:
        return ("updates",), True
    single = isinstance(stream_mode, str)
    modes = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
    if not modes:
        raise ValueError("stream_mode must name at least one mode")
    for mode in modes:
        if mode not in MODES:
            raise ValueError(
                f"unknown stream_mode {mode!r}; choose from {sorted(MODES)}"
            )
    return modes, single


def open_stream() -> tuple[
    MemoryObjectSendStream[Event], MemoryObjectReceiveStream[Event]
]:
    """A fresh (send, receive) pair for one request's events."""
    return anyio.create_memory_object_stream[Event](math.inf)


class Emitter:
    """Sends a run's events to its caller; safe to call from worker threads."""

    __slots__ = ("_loop_thread", "_owner", "_send", "modes", "namespace", "subgraphs")

    def __init__(
        self,
        send: MemoryObjectSendStream[Event] | None,
        modes: frozenset[str],
        *,
        subgraphs: bool = False,
        namespace: Namespace = (),
        owner: bool = True,
    ) -> None:
        self._send = send
        self.modes = modes if send is not None else frozenset[str]()
        self.subgraphs = subgraphs
        self.namespace = namespace
        self._owner = owner
        self._loop_thread = threading.get_ident()

    def child(self, label: str) -> Emitter:
        """The emitter of a run nested in this one under ``label``.

        It sends into this stream when the caller asked for ``subgraphs=True``
        and is silent otherwise; closing it leaves this stream open.
        """
        if not self.subgraphs or self._send is None:
            return NO_EMITTER
        return Emitter(
            self._send,
            self.modes,
            subgraphs=True,
            namespace=(*self.namespace, label),
            owner=False,
        )

    def wants(self, mode: str) -> bool:
        """True if the caller asked for ``mode``."""
        return mode in self.modes

    def emit(self, mode: str, chunk: Any) -> None:
        """Send ``chunk`` under ``mode`` if the caller asked for it (never blocks)."""
        if mode not in self.modes:
            return
        if threading.get_ident() != self._loop_thread:
            import anyio.from_thread  # (here: only sync bodies in threads need it)

            anyio.from_thread.run_sync(self._put, mode, chunk)
        else:
            self._put(mode, chunk)

    def relay(self, namespace: Namespace, mode: str, chunk: Any) -> None:
        """Send an event of a run that ran elsewhere (a cluster member), under
        this emitter's namespace; on the loop thread only (never blocks)."""
        if self._send is None or mode not in self.modes:
            return
        if namespace and not self.subgraphs:
            return
        try:
            self._send.send_nowait(((*self.namespace, *namespace), mode, chunk))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.close()  # the caller stopped reading; the run goes on

    def debug(self, kind: str, payload: dict[str, Any]) -> None:
        """Emit a ``debug`` event of ``kind`` with ``payload`` (and its "tasks" twin)."""
        if "tasks" in self.modes and kind in ("task", "task_result"):
            self.emit("tasks", task_event(kind, payload))
        if "debug" in self.modes:
            self.emit(
                "debug", {"type": kind, "timestamp": time.time(), "payload": payload}
            )

    def task(self, task_id: str, name: str, args: Any) -> None:
        """The debug (and "tasks") event of a task starting; nothing is built
        when the caller streams neither (as ``ainvoke``)."""
        if self.modes:
            self.debug("task", {"id": task_id, "name": name, "input": args})

    def task_result(self, task_id: str, name: str, value: Any) -> None:
        """A finished task's "updates" event and its debug (and "tasks") result;
        nothing is built when the caller streams none of them."""
        if self.modes:
            self.emit("updates", {name: value})
            self.debug("task_result", {"id": task_id, "name": name, "result": value})

    def _put(self, mode: str, chunk: Any) -> None:
        if self._send is None:
            return
        try:
            self._send.send_nowait((self.namespace, mode, chunk))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.close()  # the caller stopped reading; the run goes on

    def close(self) -> None:
        """End the stream (a child emitter only detaches); the caller's iteration finishes."""
        if self._send is not None:
            if self._owner:
                self._send.close()
            self._send = None


def task_event(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A debug task event in LangGraph's "tasks" stream-mode shape."""
    if kind == "task":
        return {
            "id": payload["id"],
            "name": payload["name"],
            "input": payload.get("input"),
            "triggers": (),
        }
    return {
        "id": payload["id"],
        "name": payload["name"],
        "error": payload.get("error"),
        "result": payload.get("result"),
        "interrupts": payload.get("interrupts", ()),
    }


NO_EMITTER = Emitter(None, frozenset())
