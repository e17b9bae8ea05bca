"""Small actors, turns and stores the actor tests share.

``Echo`` answers each ask with its message, so tests can drive every edge of
the actor core with plain values; the message classes below make it wait,
fail or crash on purpose.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from actors import Journal, ThreadActor
from actors._actor import ActorRef
from actors._system import Actor
from stores import BaseStore, CheckpointSaver, Op, PutOp, Result, TaskRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

# -- messages for Echo ----------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """Reply ``value`` once ``gate`` is set (the actor is busy until then)."""

    gate: anyio.Event
    value: Any = None


@dataclass(frozen=True)
class Fail:
    """Fail the asker with ``error`` (the handler's error)."""

    error: BaseException


@dataclass(frozen=True)
class Crash:
    """End ``main`` with an error: the actor crashes."""


# -- Echo -------------------------------------------------------------------------


class NotifyingRef(ActorRef[Any]):
    """An ActorRef that sets ``stopping`` when someone stops the actor."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stopping = anyio.Event()

    def stop(self) -> None:
        super().stop()
        self.stopping.set()


class Echo(Actor[Any]):
    """Replies with each message; finishes the message it is on when stopped.

    ``start_gate`` makes ``on_start`` wait; ``start_error`` makes it fail.
    Once the mailbox is closed it returns after the current message, leaving
    whatever is queued to ``Actor.run`` (which fails it: close, drain, fail).
    """

    def __init__(
        self,
        name: str = "echo",
        *,
        mailbox_size: int = 8,
        start_gate: anyio.Event | None = None,
        start_error: Exception | None = None,
        tag: object = None,
    ) -> None:
        super().__init__(name, mailbox_size=mailbox_size)
        self.ref = self.notifying_ref = NotifyingRef(name, self.mailbox, self._stopped)
        self.start_gate = start_gate
        self.start_error = start_error
        self.tag = tag
        self.started = anyio.Event()
        self.entered_start = anyio.Event()
        self.handled: list[Any] = []
        self.busy = False

    async def on_start(self) -> None:
        self.entered_start.set()
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.start_error is not None:
            raise self.start_error
        self.started.set()

    @property
    def idle(self) -> bool:
        return not self.busy and len(self.mailbox) == 0

    async def main(self) -> None:
        while True:
            try:
                env = await self.mailbox.receive()
            except anyio.EndOfStream:
                return
            self.busy = True
            match env.msg:
                case Crash():
                    raise RuntimeError(f"{self.name} crashed on purpose")
                case Hold(gate=gate, value=value):
                    self.handled.append(env.msg)
                    await gate.wait()
                    env.succeed(value)
                case Fail(error=error):
                    self.handled.append(env.msg)
                    env.fail(error)
                case other:
                    self.handled.append(other)
                    env.succeed((self.tag, other) if self.tag is not None else other)
            self.busy = False
            if self.mailbox.statistics().closed:
                return


def close_mailboxes(actors: Iterable[Actor[Any]]) -> None:
    """Close the streams of actors a failing test may have leaked.

    An unclosed memory stream warns when garbage collected, which can be
    long after its test: closing here keeps the failure in its own test.
    """
    for actor in actors:
        with contextlib.suppress(anyio.ClosedResourceError):
            actor.mailbox.drain()


# -- thread actors and turns ----------------------------------------------------


def thread_actor(
    saver: CheckpointSaver,
    thread_id: str = "t1",
    *,
    mailbox_size: int = 8,
    idle_timeout: float = math.inf,
    on_release: Callable[[], None] = lambda: None,
) -> ThreadActor:
    """A ThreadActor that never passivates unless given an idle_timeout."""
    return ThreadActor(
        thread_id,
        saver,
        mailbox_size=mailbox_size,
        idle_timeout=idle_timeout,
        on_release=on_release,
    )


def record(task_id: str, payload: bytes = b"x") -> TaskRecord:
    """A finished task's record."""
    return TaskRecord(task_id=task_id, name=task_id, kind="result", payload=payload)


@dataclass
class Turns:
    """Builds Turn callables and remembers what they did."""

    log: list[str] = field(default_factory=list[str])
    running: int = 0
    max_running: int = 0

    def commit(
        self, name: str, value: bytes = b"v"
    ) -> Callable[[Journal], Awaitable[Any]]:
        """A turn that starts a run and commits ``value``; replies the new version."""

        async def turn(journal: Journal) -> int:
            self._enter(name)
            try:
                journal.start_run(name.encode())
                await anyio.lowlevel.checkpoint()
                checkpoint = await journal.commit(value, value, {"turn": name})
                return checkpoint.version
            finally:
                self._exit(name)

        return turn

    def blocked(
        self,
        name: str,
        gate: anyio.Event,
        records: Iterable[str] = (),
        entered: anyio.Event | None = None,
    ) -> Callable[[Journal], Awaitable[Any]]:
        """A turn that starts a run, records ``records``, then waits on ``gate`` and commits.

        ``entered`` is set once the records are written and the turn waits.
        """

        async def turn(journal: Journal) -> int:
            self._enter(name)
            try:
                journal.start_run(name.encode())
                for task_id in records:
                    await journal.record(record(task_id))
                if entered is not None:
                    entered.set()
                await gate.wait()
                checkpoint = await journal.commit(b"done", b"done", {})
                return checkpoint.version
            finally:
                self._exit(name)

        return turn

    def _enter(self, name: str) -> None:
        self.log.append(f"start:{name}")
        self.running += 1
        self.max_running = max(self.max_running, self.running)

    def _exit(self, name: str) -> None:
        self.log.append(f"end:{name}")
        self.running -= 1


# -- stores -------------------------------------------------------------------------


class GatedStore(BaseStore):
    """Wraps a store: the first batch waits on ``gate``; puts of ``bad_key`` fail."""

    def __init__(self, inner: BaseStore, *, bad_key: str | None = None) -> None:
        self.inner = inner
        self.bad_key = bad_key
        self.gate = anyio.Event()
        self.entered = anyio.Event()
        self.batch_sizes: list[int] = []
        self.sizes_at_release: list[int] | None = (
            None  # set by tests that open the gate
        )

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.batch_sizes.append(len(ops))
        if len(self.batch_sizes) == 1:
            self.entered.set()
            await self.gate.wait()
        if any(isinstance(op, PutOp) and op.key == self.bad_key for op in ops):
            raise BadKeyError(f"key {self.bad_key!r} is refused by this store")
        return await self.inner.abatch(ops)


class BadKeyError(Exception):
    """Raised by GatedStore for its bad key."""
