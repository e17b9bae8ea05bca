"""``Actor`` (the base of every actor) and ``ActorSystem`` (owns their tasks).

Idle actors are found by one sweeper task per system, which wakes every
quarter of the shortest ``idle_timeout`` among the actors it has spawned
and asks each running actor to ``expire``: an actor stops between 1 and
1.25 idle timeouts after its last request, and no actor arms a timer per
request (at a thousand warm threads, arming and cancelling one per turn
was a measurable share of the event loop's time).
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskStatus

from stores._shared import new_signal

from ._actor import ActorRef, Envelope, fail_all
from ._mailbox import Mailbox, MailboxLike

M = TypeVar("M")
log = logging.getLogger("actors")


class Actor(ABC, Generic[M]):
    """An actor: a mailbox plus a loop that only this actor's tasks run.

    Subclasses load their state in ``on_start`` (callers never see a
    half-activated actor) and consume the mailbox in ``main``, which returns
    once the mailbox is closed and drained.
    """

    idle_timeout: float = math.inf
    """Seconds idle after which ``expire`` may stop the actor (inf: never)."""

    def __init__(
        self,
        name: str,
        *,
        mailbox_size: int,
        mailbox: MailboxLike[Envelope[M]] | None = None,
    ) -> None:
        self.name = name
        self.mailbox: MailboxLike[Envelope[M]] = (
            mailbox if mailbox is not None else Mailbox(mailbox_size)
        )
        self._stopped = new_signal()
        self.ref: ActorRef[M] = ActorRef(name, self.mailbox, self._stopped)

    async def on_start(self) -> None:
        """Load state before the actor reports ready; an error here fails activation."""

    @property
    def idle(self) -> bool:
        """True when the actor holds no work and can stop without losing any."""
        return len(self.mailbox) == 0

    def expire(self, now: float) -> None:
        """Stop the actor if it has been idle for ``idle_timeout`` (never blocks).

        Called by the system's sweeper with ``anyio.current_time()``. The
        default never expires.
        """
        del now

    @abstractmethod
    async def main(self) -> None:
        """Consume the mailbox until it is closed."""

    async def run(
        self, *, task_status: TaskStatus[ActorRef[M]] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Start, report ready with the ref, serve; on exit fail whatever is left."""
        crashed = True
        try:
            await self.on_start()
            task_status.started(self.ref)
            await self.main()
            crashed = False
        finally:
            # After a clean stop a queued request never started, so a fresh
            # activation may take it; after a crash, retrying could crash again.
            reason = f"{self.name} crashed" if crashed else f"{self.name} stopped"
            self.mailbox.close(retriable=not crashed)
            fail_all(self.mailbox.drain(), reason, retriable=not crashed)
            self._stopped.set()


class ActorSystem(anyio.AsyncContextManagerMixin):
    """Owns one task group in which every actor runs.

    ``async with ActorSystem() as system:``; leaving the block closes every
    mailbox and waits for the actors to finish what they were doing. A crash
    in one actor is logged and ends that actor only.
    """

    def __init__(self) -> None:
        self._tg: anyio.abc.TaskGroup | None = None
        self._actors: set[Actor[Any]] = set()
        self._daemons: set[anyio.CancelScope] = set()
        self._sweep_every = math.inf
        self._sweep_sooner: anyio.Event | None = None
        self._closed = False

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[ActorSystem]:
        if self._closed or self._tg is not None:
            raise RuntimeError("an ActorSystem can be entered only once")
        error: Exception | None = None
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            except Exception as exc:  # noqa: BLE001 -- re-raised below, unwrapped from the task group's ExceptionGroup
                error = exc
                tg.cancel_scope.cancel()  # the body failed: do not wait for running work
            finally:
                self._closed = True
                for scope in self._daemons:
                    scope.cancel()
                for actor in list(self._actors):
                    actor.ref.stop()
        self._tg = None
        if error is not None:
            raise error

    @property
    def closed(self) -> bool:
        """True once the system is shutting down; spawning then fails."""
        return self._closed

    def start_soon(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
        name: object = None,
    ) -> None:
        """Run ``fn(*args)`` as a helper task in the system's task group.

        The caller owns the task: it must end it before the system exits
        (an error escaping it ends the system). RuntimeError once the system
        has exited.
        """
        if self._tg is None:
            raise RuntimeError(
                "the actor system is not running; use it inside 'async with'"
            )
        self._tg.start_soon(fn, *args, name=name)

    def start_daemon(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any
    ) -> None:
        """Run ``fn(*args)`` until the system closes, then cancel it.

        For housekeeping loops (the idle sweeper) that nobody
        else would stop. RuntimeError once the system is closed.
        """
        if self._tg is None or self._closed:
            raise RuntimeError(
                "the actor system is not running; use it inside 'async with'"
            )
        self._tg.start_soon(self._daemon, fn, args)

    async def _daemon(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...]
    ) -> None:
        with anyio.CancelScope() as scope:
            if self._closed:  # closed between start_soon and here
                return
            self._daemons.add(scope)
            try:
                await fn(*args)
            finally:
                self._daemons.discard(scope)

    async def spawn(self, actor: Actor[M]) -> ActorRef[M]:
        """Start ``actor`` and return its ref once its state is loaded.

        Raises whatever ``actor.on_start`` raised, or RuntimeError if the
        system is closed.
        """
        if self._tg is None or self._closed:
            actor.mailbox.drain()
            raise RuntimeError(
                "the actor system is not running; use it inside 'async with'"
            )
        try:
            ref = await self._tg.start(self._supervise, actor)
        except BaseException:
            actor.mailbox.drain()  # it never ran: close its mailbox so nothing waits on it
            raise
        period = max(actor.idle_timeout / 4, 0.001)
        if period < self._sweep_every:
            if math.isinf(self._sweep_every):
                self.start_daemon(self._sweep)
            self._sweep_every = period
            if (
                self._sweep_sooner is not None
            ):  # a sweeper asleep on a longer period wakes
                self._sweep_sooner.set()
        return ref

    async def _sweep(self) -> None:
        while True:
            sooner = self._sweep_sooner = anyio.Event()
            with anyio.move_on_after(self._sweep_every):
                await sooner.wait()
                continue  # a shorter period: sleep again on that one
            now = anyio.current_time()
            for actor in list(self._actors):
                actor.expire(now)

    async def _supervise(
        self, actor: Actor[M], *, task_status: TaskStatus[ActorRef[M]]
    ) -> None:
        started = False

        def on_started(ref: ActorRef[M]) -> None:
            nonlocal started
            started = True
            task_status.started(ref)

        proxy = _StatusProxy(on_started)
        self._actors.add(actor)
        try:
            await actor.run(task_status=proxy)
        except Exception:
            if not started:
                raise
            log.exception("actor %s crashed", actor.name)
        finally:
            self._actors.discard(actor)


class _StatusProxy(TaskStatus[Any]):
    """Forwards ``started`` so the supervisor knows the actor became ready."""

    def __init__(self, fn: Any) -> None:
        self._fn = fn

    def started(self, value: Any = None) -> None:
        self._fn(value)
